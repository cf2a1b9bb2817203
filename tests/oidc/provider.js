// A test-only OpenID Provider (npm `oidc-provider`), started by the `oidc_provider` fixture in
// tests/conftest.py on a free loopback port. Never used by the app in production.
//
// node provider.js <port> <settings.json>
// settings.json: {"clients": [...client metadata...], "accounts": {"<sub>": {...claims...}},
//                 "codeTtl": seconds}
// Prints "listening <issuer>" on stdout once it accepts connections.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const [port, settingsFile] = process.argv.slice(2);
const settings = JSON.parse(readFileSync(settingsFile, 'utf8'));
const issuer = `http://127.0.0.1:${port}`;

const configuration = {
  clients: settings.clients,
  // The people of the invented province's directory: the dev login form's "login" is the sub.
  async findAccount(ctx, sub) {
    const claims = settings.accounts[sub];
    if (!claims) return undefined;
    return { accountId: sub, async claims() { return { sub, ...claims }; } };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    staff: ['employee_code', 'agency'],
  },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  ttl: {
    AuthorizationCode: settings.codeTtl || 60,
    AccessToken: 600,
    IdToken: 600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  cookies: { keys: ['test-only-cookie-key'] },
};

const provider = new Provider(issuer, configuration);
const server = provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
