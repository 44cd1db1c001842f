// Verifies a JWT (read from stdin) with npm's jose against a remote JWKS, for b2b-auth's
// interop tests: `node jose_verify.mjs JWKS_URI ISSUER`. Prints one JSON line:
// {"ok":true,"header":{...},"payload":{...}} or {"ok":false,"error":"<jose error code>"}.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [jwksUri, issuer] = process.argv.slice(2);
let token = '';
for await (const chunk of process.stdin) token += chunk;
try {
  const jwks = createRemoteJWKSet(new URL(jwksUri));
  const { payload, protectedHeader } = await jwtVerify(token.trim(), jwks, {
    issuer,
    algorithms: ['RS256', 'ES256', 'EdDSA'],
  });
  console.log(JSON.stringify({ ok: true, header: protectedHeader, payload }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: error.code ?? String(error) }));
}
