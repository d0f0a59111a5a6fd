/**
 * Account creation and administrative password reset, shared by registration
 * (AuthService) and the `stock-tracker user` command: one place for the user
 * name rules and the password policy.
 */
import { randomUUID } from 'node:crypto';
import { AppError, type AuthUser } from '@stock-tracker/protocol';
import type { AccountRecord, AuthRepository } from '../storage/auth-repo.ts';
import { PasswordHasher, USERNAME_RE, normalizeUsername, passwordProblems } from './passwords.ts';

export const toAuthUser = (a: AccountRecord): AuthUser => ({ id: a.id, username: a.username, createdAt: a.createdAt });

/** `prefix` names the fields in error details (`body` for REST). */
export async function createAccount(repo: AuthRepository, hasher: PasswordHasher, username: string, password: string, now: number, prefix = 'body'): Promise<AuthUser> {
  const name = normalizeUsername(username);
  const field = (f: string) => (prefix ? `${prefix}.${f}` : f);
  if (!USERNAME_RE.test(name)) throw new AppError('VALIDATION_FAILED', 'The user name is not valid.', [{ path: field('username'), issue: 'must be 3–32 characters of letters, digits, . _ -' }]);
  const problems = passwordProblems(password, name, field('password'));
  if (problems.length > 0) throw new AppError('VALIDATION_FAILED', 'The password does not meet the policy.', problems);
  return toAuthUser(await repo.createAccount({ id: randomUUID(), username: name, passwordHash: await hasher.hash(password), now }));
}

/** Sets a new password and ends every session of the user. */
export async function resetPassword(repo: AuthRepository, hasher: PasswordHasher, username: string, password: string, now: number): Promise<{ user: AuthUser; revoked: string[] }> {
  const account = await repo.findAccount(normalizeUsername(username));
  if (!account) throw new AppError('NOT_FOUND', `No user '${normalizeUsername(username)}'.`);
  const problems = passwordProblems(password, account.username, 'password');
  if (problems.length > 0) throw new AppError('VALIDATION_FAILED', 'The password does not meet the policy.', problems);
  await repo.setPasswordHash(account.id, await hasher.hash(password));
  const revoked = await repo.revokeUserSessions(account.id, 'password_reset', now);
  return { user: toAuthUser(account), revoked };
}
