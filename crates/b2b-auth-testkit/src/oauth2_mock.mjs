// Drives npm's oauth2-mock-server for b2b-auth's tests (see src/oauth2_mock.rs).
//
// Started as `node oauth2_mock.mjs '<json options>'` from the folder whose node_modules holds
// oauth2-mock-server. Serves on 127.0.0.1 and a port the system picks, prints one JSON line
// {"ready":true,"port":N,"issuer":URL}, then takes one JSON command per line on stdin and
// answers each with one JSON line on stdout. Exits when stdin closes (the test process died).
import http from 'node:http';
import readline from 'node:readline';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const options = JSON.parse(process.argv[2] ?? '{}');
const issuer = new OAuth2Issuer();
const service = new OAuth2Service(issuer);
for (const alg of options.algs ?? ['RS256']) {
  await issuer.keys.generate(alg);
}

const state = {
  claims: {},      // merged into every token payload; a null value deletes the claim
  header: {},      // merged into every token header (e.g. a kid the JWKS does not have)
  lifetime: null,  // seconds: exp = iat + lifetime, and expires_in = lifetime
  faults: new Map(),   // path -> queue of faults
  requests: new Map(), // path -> count
};

function merge(target, patch) {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete target[key];
    else target[key] = value;
  }
}

service.on('beforeTokenSigning', (token) => {
  if (state.lifetime !== null) token.payload.exp = token.payload.iat + state.lifetime;
  merge(token.payload, state.claims);
  merge(token.header, state.header);
});

service.on('beforeResponse', (response) => {
  if (response.statusCode === 200 && state.lifetime !== null && response.body !== '') {
    response.body.expires_in = state.lifetime;
  }
});

function nextFault(path) {
  const queue = state.faults.get(path);
  if (!queue || queue.length === 0) return null;
  const fault = queue[0];
  if (fault.times !== null && fault.times !== undefined) {
    fault.times -= 1;
    if (fault.times <= 0) queue.shift();
  }
  return fault;
}

const handler = service.requestHandler;
const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://127.0.0.1').pathname;
  state.requests.set(path, (state.requests.get(path) ?? 0) + 1);
  const fault = nextFault(path);
  if (fault) {
    if (fault.delay_ms) await new Promise((resolve) => setTimeout(resolve, fault.delay_ms));
    if (fault.drop) {
      req.socket.destroy();
      return;
    }
    if (fault.status) {
      const headers = { 'Content-Type': 'application/json' };
      if (fault.retry_after !== null && fault.retry_after !== undefined) {
        headers['Retry-After'] = String(fault.retry_after);
      }
      res.writeHead(fault.status, headers);
      res.end(JSON.stringify(fault.body ?? { error: 'injected_fault' }));
      return;
    }
  }
  handler(req, res);
});

function reply(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

async function run(command) {
  switch (command.op) {
    // Stored as given (nulls included); applied with merge() when a token is signed.
    case 'claims': Object.assign(state.claims, command.value); return {};
    case 'header': Object.assign(state.header, command.value); return {};
    case 'lifetime': state.lifetime = command.value; return {};
    case 'fault': {
      const queue = state.faults.get(command.path) ?? [];
      queue.push(command.fault);
      state.faults.set(command.path, queue);
      return {};
    }
    case 'requests': return { count: state.requests.get(command.path) ?? 0 };
    case 'generate_key': {
      const jwk = await issuer.keys.generate(command.alg);
      return { kid: jwk.kid };
    }
    case 'reset':
      state.claims = {};
      state.header = {};
      state.lifetime = null;
      state.faults.clear();
      state.requests.clear();
      return {};
    default: throw new Error(`unknown op ${command.op}`);
  }
}

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  // The library would name itself http://localhost:PORT; tokens must name what we serve on.
  issuer.url = `http://127.0.0.1:${port}`;
  reply({ ready: true, port, issuer: issuer.url });
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', async (line) => {
    try {
      reply({ ok: true, ...(await run(JSON.parse(line))) });
    } catch (error) {
      reply({ ok: false, error: String(error) });
    }
  });
  lines.on('close', () => process.exit(0));
});
