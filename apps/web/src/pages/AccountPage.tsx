/**
 * The signed-in user's account: who is signed in, and a password change.
 * The form checks what the server's policy would refuse outright (length,
 * the user name, a repeat of the current password, confirmation) before
 * sending; what only the server can judge (the current password, common
 * passwords, throttling) is shown as it answers, on the field it concerns.
 */
import { useId, useRef, useState, type FormEvent } from 'react';
import { ApiError, type RestClient } from '@stock-tracker/client';
import { NewPassword } from '@stock-tracker/protocol';
import type { AuthSession } from '../auth/session.ts';
import { useServices } from '../services.tsx';
import { useValue } from '../store/value-store.ts';

export type PasswordField = 'current' | 'next' | 'confirm';
export type PasswordFormValues = Record<PasswordField, string>;
export type PasswordErrors = Partial<Record<PasswordField, string>>;

// From the contract's schema, so the page and the server cannot drift apart.
const MIN = NewPassword.minLength ?? 8;
const MAX = NewPassword.maxLength ?? 256;
const FIELDS: readonly PasswordField[] = ['current', 'next', 'confirm'];
const LABELS: Record<PasswordField, string> = { current: 'Current password', next: 'New password', confirm: 'Confirm new password' };
const EMPTY: PasswordFormValues = { current: '', next: '', confirm: '' };

/** The server's password policy (apps/server auth/passwords.ts) as far as the page can know it; empty when the form may be sent. */
export function validatePasswordChange(v: PasswordFormValues, username: string): PasswordErrors {
  const e: PasswordErrors = {};
  if (v.current === '') e.current = 'Enter your current password.';
  if (v.next === '') e.next = 'Enter a new password.';
  else if (v.next.length < MIN) e.next = `New password must be at least ${MIN} characters.`;
  else if (v.next.length > MAX) e.next = `New password must be at most ${MAX} characters.`;
  else if (v.next.toLowerCase() === username.toLowerCase()) e.next = 'New password must not be your user name.';
  else if (new Set(v.next).size < 4) e.next = 'New password is too simple (at least 4 different characters).';
  else if (v.next === v.current) e.next = 'New password must differ from the current password.';
  if (v.confirm !== v.next) e.confirm = 'The new passwords do not match.';
  return e;
}

/** A server detail path (`body.currentPassword`, `body/newPassword`) → the form field it concerns. */
export function fieldOfDetail(path: string): PasswordField | null {
  const last = path.split(/[/.]/).filter(Boolean).pop();
  return last === 'currentPassword' ? 'current' : last === 'newPassword' ? 'next' : null;
}

interface Failure {
  code: string;
  message: string;
  fields: PasswordErrors;
}

function describe(err: unknown): Failure {
  if (!(err instanceof ApiError)) return { code: 'INTERNAL', message: 'Something went wrong; try again.', fields: {} };
  if (err.code === 'NETWORK_ERROR') return { code: err.code, message: 'The server cannot be reached.', fields: {} };
  const fields: PasswordErrors = {};
  const unmapped: string[] = [];
  for (const d of err.details ?? []) {
    const f = fieldOfDetail(d.path);
    if (f && !fields[f]) fields[f] = `${LABELS[f]} ${d.issue}.`;
    else if (!f) unmapped.push(`${d.path} ${d.issue}`);
  }
  return { code: err.code, message: unmapped.length ? `${err.message} (${unmapped.join('; ')})` : err.message, fields };
}

function NotEnabled() {
  return (
    <article aria-labelledby="account-page-h">
      <h1 id="account-page-h">Account</h1>
      <section className="card">
        <p>Accounts are not enabled on this server: everyone uses the app without signing in, so there is no password to change.</p>
      </section>
    </article>
  );
}

export default function AccountPage() {
  const { api, auth } = useServices();
  if (!auth) return <NotEnabled />;
  return <Account session={auth} api={api} />;
}

function Account({ session, api }: { session: AuthSession; api: Pick<RestClient, 'changePassword'> }) {
  const { status, user } = useValue(session);
  const id = useId();
  const [values, setValues] = useState<PasswordFormValues>(EMPTY);
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<PasswordErrors>({});
  const [failure, setFailure] = useState<Failure | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const inputs = useRef<Partial<Record<PasswordField, HTMLInputElement | null>>>({});

  if (status === 'open') return <NotEnabled />;
  if (status !== 'signed-in' || !user) {
    return (
      <article aria-labelledby="account-page-h">
        <h1 id="account-page-h">Account</h1>
        <p className="muted">Sign in to manage your account.</p>
      </article>
    );
  }

  // Client checks follow the typing once a submit was tried; a server refusal wins on its field until that field changes.
  const shown: PasswordErrors = { ...(submitted ? validatePasswordChange(values, user.username) : {}), ...serverErrors };
  const focusFirst = (errs: PasswordErrors) => {
    const f = FIELDS.find((k) => errs[k]);
    if (f) inputs.current[f]?.focus();
  };

  const change = (f: PasswordField, v: string) => {
    setValues((cur) => ({ ...cur, [f]: v }));
    setServerErrors(({ [f]: _gone, ...rest }) => rest);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setDone(null);
    setFailure(null);
    setServerErrors({});
    setSubmitted(true);
    const errs = validatePasswordChange(values, user.username);
    if (Object.keys(errs).length > 0) {
      focusFirst(errs);
      return;
    }
    setBusy(true);
    try {
      await session.changePassword(values.current, values.next, api);
      setValues(EMPTY);
      setSubmitted(false);
      setDone('Password changed. Your other sessions have been signed out; this one stays signed in.');
    } catch (err) {
      const f = describe(err);
      setFailure(f);
      setServerErrors(f.fields);
      // A wrong current password is typed again from scratch, as on the sign-in form.
      if (f.fields.current) setValues((cur) => ({ ...cur, current: '' }));
      focusFirst(f.fields);
    } finally {
      setBusy(false);
    }
  };

  const field = (f: PasswordField, autoComplete: string, hint?: string) => {
    const fid = `${id}-${f}`;
    const err = shown[f];
    const describedBy = [hint && `${fid}-hint`, err && `${fid}-err`].filter(Boolean).join(' ') || undefined;
    return (
      <div className="field">
        <label htmlFor={fid}>{LABELS[f]}</label>
        <input
          ref={(el) => {
            inputs.current[f] = el;
          }}
          id={fid}
          name={f}
          type="password"
          autoComplete={autoComplete}
          required
          maxLength={MAX}
          value={values[f]}
          onChange={(e) => change(f, e.target.value)}
          aria-invalid={Boolean(err)}
          aria-describedby={describedBy}
        />
        {hint && <span id={`${fid}-hint`} className="hint">{hint}</span>}
        {err && <span id={`${fid}-err`} className="field-error">{err}</span>}
      </div>
    );
  };

  return (
    <article aria-labelledby="account-page-h">
      <h1 id="account-page-h">Account</h1>
      <section className="card" aria-labelledby={`${id}-who`}>
        <h2 id={`${id}-who`}>Signed in</h2>
        <p>
          Signed in as <strong>{user.username}</strong>.
        </p>
      </section>
      <section className="card" aria-labelledby={`${id}-pw`}>
        <h2 id={`${id}-pw`}>Change password</h2>
        <form className="account-form" onSubmit={submit} noValidate aria-labelledby={`${id}-pw`}>
          {/* Lets password managers file the new password under the right account. */}
          <input type="text" name="username" autoComplete="username" value={user.username} readOnly hidden />
          {field('current', 'current-password')}
          {field('next', 'new-password', `At least ${MIN} characters, not your user name. Your other sessions will be signed out.`)}
          {field('confirm', 'new-password')}
          {failure && (
            <p className="error" role="alert" data-code={failure.code}>
              {failure.message}
            </p>
          )}
          <button type="submit" disabled={busy}>
            {busy ? 'Please wait…' : 'Change password'}
          </button>
        </form>
        <p className="muted" role="status">
          {done}
        </p>
      </section>
    </article>
  );
}
