// The official MCP TypeScript SDK's client, driven by a Rust integration test (tests/src/node.rs).
//
//   node client.mjs <mcp_url> [plan]      (the plan: this argument, or the E2E_PLAN variable)
//
// The plan is JSON: {"scope": "…", "tokens": {…}, "steps": [{"call": "whoami", "args": {}}, …]}
// - scope (optional): the client metadata's `scope`, which the SDK asks for only when neither the
//   server's challenge nor its protected resource metadata names one;
// - tokens (optional): OAuth tokens the client holds before it starts (a token without the API's
//   scope, to be stepped up);
// - steps: in order, `tools/call` of `call` with `args` ({"call": …, "args": …}), `tools/list`
//   ({"list": true}), or ({"tokens": {…}}) replacing the tokens the client holds from then on (its
//   result is null): a token without the API's scope, to be stepped up in the middle of a session.
//
// The client is the SDK's own: `Client`, `StreamableHTTPClientTransport`, and an `OAuthClientProvider`
// kept in memory. The SDK does discovery, dynamic registration, PKCE, the code exchange and refresh;
// this script is only its user agent's go-between. Each time the SDK sends the user to authorize, it
// writes one line to stdout,
//   {"authorize": "<authorization URL>", "redirect_uri": "http://127.0.0.1:<port>/callback"}
// and reads one line from stdin: the URL the browser landed on at the redirect URI (the Rust side
// walks the sign-in). Then, as the SDK's documented flow does (its examples/client/simpleOAuthClient):
// `transport.finishAuth(code)` and a new connection, or the failed request again.
//
// Stdout, one JSON object a line: the authorize lines, then {"step": i, "result": …} or
// {"step": i, "error": "…"} per step, each also with "authorizations" (how many the SDK had asked for
// by the end of the step) and "refusals" (the MCP endpoint's 401 and 403 answers during the step:
// [{"status", "www_authenticate", "body"}], seen through the transport's `fetch`),
// {"authorizations": N}, {"done": true}. A failure outside a step:
// {"fatal": "…"} and exit status 1. The SDK's own diagnostics go to stderr.
//
// The SDK version is pinned in package.json: @modelcontextprotocol/sdk 1.32.2, the newest release.
// Its StreamableHTTPClientTransport steps up on a 403 `insufficient_scope` challenge to a POST
// (dist/esm/client/streamableHttp.js lines 350-378, the `response.status === 403` branch of `send`):
// it takes the challenge's `scope` (and `resource_metadata`) and runs `auth()` again with them, which
// refreshes when the client holds a refresh token and otherwise calls `redirectToAuthorization` with
// that scope and throws `UnauthorizedError`; after `finishAuth`, the request is sent again (here).
// It tries once per challenge (the same 403 again is an error). The refresh does not send the new
// scope: a client holding a refresh token steps up only if the refreshed token carries the scope.

import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

/** One JSON line on stdout (a pipe: written synchronously on Linux). */
function emit(line) {
    process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** An error as one line: its name and message, and its cause's (fetch says only "fetch failed"). */
function describe(error) {
    if (!(error instanceof Error)) {
        return String(error);
    }
    const cause = error.cause === undefined ? '' : ` (${describe(error.cause)})`;
    return `${error.name}: ${error.message}${cause}`;
}

/** The MCP endpoint's 401 and 403 answers since the current step began. */
let refusals = [];

/** `fetch`, keeping the MCP endpoint's 401 and 403 answers in `refusals`. */
function recordingFetch(mcpUrl) {
    return async (input, init) => {
        const response = await fetch(input, init);
        const url = input instanceof Request ? input.url : String(input);
        if (url === mcpUrl && (response.status === 401 || response.status === 403)) {
            refusals.push({
                status: response.status,
                www_authenticate: response.headers.get('www-authenticate'),
                body: await response.clone().text()
            });
        }
        return response;
    };
}

function fatal(error) {
    emit({ fatal: describe(error) });
    process.exit(1);
}

/** A loopback port nothing listens on, as a native client picks one for its redirect URI. */
async function freePort() {
    const server = createServer();
    await new Promise((resolve, reject) => server.listen(0, '127.0.0.1', resolve).on('error', reject));
    const { port } = server.address();
    await new Promise(resolve => server.close(resolve));
    return port;
}

/** Lines of stdin, one at a time. */
const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function readLine() {
    const { value, done } = await stdin.next();
    if (done) {
        throw new Error('stdin closed before the landing URL');
    }
    return value;
}

/**
 * An `OAuthClientProvider` that keeps everything in memory (client information, tokens, PKCE
 * verifier) and hands each authorization URL to the Rust side, which answers with the landing URL.
 */
class LineProvider {
    constructor(redirectUrl, scope, tokens) {
        this._redirectUrl = redirectUrl;
        this._scope = scope;
        this._tokens = tokens;
        this._clientInformation = undefined;
        this._codeVerifier = undefined;
        this._state = undefined;
        /** How many times the SDK sent the user to authorize. */
        this.authorizations = 0;
        /** The code of the last landing, until `finishAuth` takes it. */
        this.pendingCode = undefined;
    }

    get redirectUrl() {
        return this._redirectUrl;
    }

    get clientMetadata() {
        return {
            client_name: 'MCP TypeScript SDK end-to-end test',
            redirect_uris: [this._redirectUrl],
            token_endpoint_auth_method: 'none',
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            ...(this._scope ? { scope: this._scope } : {})
        };
    }

    /** A fresh `state` per authorization, checked at the landing (the SDK leaves that to its user). */
    state() {
        this._state = randomBytes(16).toString('base64url');
        return this._state;
    }

    clientInformation() {
        return this._clientInformation;
    }

    saveClientInformation(clientInformation) {
        this._clientInformation = clientInformation;
    }

    tokens() {
        return this._tokens;
    }

    saveTokens(tokens) {
        this._tokens = tokens;
    }

    saveCodeVerifier(codeVerifier) {
        this._codeVerifier = codeVerifier;
    }

    codeVerifier() {
        if (!this._codeVerifier) {
            throw new Error('no code verifier saved');
        }
        return this._codeVerifier;
    }

    invalidateCredentials(scope) {
        if (scope === 'all' || scope === 'client') this._clientInformation = undefined;
        if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
        if (scope === 'all' || scope === 'verifier') this._codeVerifier = undefined;
    }

    async redirectToAuthorization(authorizationUrl) {
        this.authorizations += 1;
        emit({ authorize: authorizationUrl.toString(), redirect_uri: this._redirectUrl });
        const landing = new URL(await readLine());
        const landedOn = `${landing.origin}${landing.pathname}`;
        if (landedOn !== this._redirectUrl) {
            throw new Error(`landed on ${landedOn}, not the redirect URI ${this._redirectUrl}`);
        }
        const error = landing.searchParams.get('error');
        if (error) {
            const description = landing.searchParams.get('error_description') ?? '';
            throw new Error(`authorization refused: ${error} ${description}`);
        }
        if (landing.searchParams.get('state') !== this._state) {
            throw new Error('the landing does not carry the state this authorization sent');
        }
        const code = landing.searchParams.get('code');
        if (!code) {
            throw new Error(`no code at the landing: ${landing.search}`);
        }
        this.pendingCode = code;
    }

    /** The code of the authorization that just landed (once). */
    takeCode() {
        const code = this.pendingCode;
        this.pendingCode = undefined;
        return code;
    }
}

/**
 * Runs `attempt`; when it fails with `UnauthorizedError` after a sign-in landed, finishes that sign-in
 * on the current transport and runs it again, as the SDK's documented flow does (at most `limit` times).
 */
async function withSignIn(provider, transport, attempt, limit = 3) {
    for (let tries = 0; ; tries += 1) {
        try {
            return await attempt();
        } catch (error) {
            const code = error instanceof UnauthorizedError ? provider.takeCode() : undefined;
            if (code === undefined || tries >= limit) {
                throw error;
            }
            await transport().finishAuth(code);
        }
    }
}

async function main() {
    const [mcpUrl, planArg] = process.argv.slice(2);
    if (!mcpUrl) {
        throw new Error('usage: node client.mjs <mcp_url> [plan JSON] (or the plan in E2E_PLAN)');
    }
    const plan = JSON.parse(planArg ?? process.env.E2E_PLAN ?? '{"steps": []}');
    const redirectUrl = `http://127.0.0.1:${await freePort()}/callback`;
    const provider = new LineProvider(redirectUrl, plan.scope, plan.tokens);
    const client = new Client({ name: 'mcp-e2e-ts', version: '0.0.0' });

    // A failed `connect` closes its transport: each attempt gets a new one, as in the SDK's example.
    let transport;
    await withSignIn(
        provider,
        () => transport,
        async () => {
            await client.close();
            transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
                authProvider: provider,
                fetch: recordingFetch(new URL(mcpUrl).href)
            });
            await client.connect(transport);
        }
    );

    const steps = plan.steps ?? [];
    for (const [step, spec] of steps.entries()) {
        refusals = [];
        const seen = () => ({ authorizations: provider.authorizations, refusals });
        try {
            const result = await withSignIn(provider, () => transport, () => {
                if (spec.list) {
                    return client.listTools();
                }
                if (spec.tokens) {
                    provider.saveTokens(spec.tokens);
                    return null;
                }
                if (typeof spec.call === 'string') {
                    return client.callTool({ name: spec.call, arguments: spec.args ?? {} });
                }
                throw new Error(`step ${step}: not "call", "list" nor "tokens": ${JSON.stringify(spec)}`);
            });
            emit({ step, result, ...seen() });
        } catch (error) {
            emit({ step, error: describe(error), ...seen() });
        }
    }
    await client.close();
    emit({ authorizations: provider.authorizations });
    emit({ done: true });
    process.exit(0);
}

main().catch(fatal);
