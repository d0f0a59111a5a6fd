// Placeholder replaced by the services setup (PostgreSQL/Redis) in the server work.
export default function setup() {}
