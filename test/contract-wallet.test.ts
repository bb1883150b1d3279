import { createServer, type Server } from 'node:http';
import type { Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getNonce, json, post, siweText, sqliteTarget, type Harness } from './support/harness.js';
import type { ErrorBody, Session } from './support/responses.js';

/**
 * Smart-contract wallets (ERC-1271 / ERC-6492) sign in through the chain's RPC. The Ethereum node
 * is outside the system, so it is the one thing mocked here: a JSON-RPC server that answers
 * viem's deployless ERC-6492 validator `eth_call` the way a chain would for one contract wallet
 * that accepts exactly one signature.
 */
const WALLET = '0x1111111111111111111111111111111111111111';
const WALLET_SIGNATURE = `0x${'ab'.repeat(100)}` as Hex; // not a 65-byte ECDSA signature: recovery cannot succeed

function fakeNode(behaviour: 'answer' | 'hang'): Promise<{ url: string; calls: unknown[]; close(): Promise<void> }> {
  const calls: unknown[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const msg = JSON.parse(body) as { id: number; method: string; params: [{ data: Hex; to?: string }] };
      calls.push(msg);
      if (behaviour === 'hang') return; // never answers: the service must time out
      let result: Hex = '0x';
      if (msg.method === 'eth_call') {
        // The validator's arguments (wallet address, message hash, signature) are ABI-encoded at the
        // end of the call data: the wallet accepts the call when both its address and its one
        // accepted signature are in it.
        const data = msg.params[0].data.toLowerCase();
        const valid = data.includes(WALLET.slice(2)) && data.includes(WALLET_SIGNATURE.slice(2));
        result = valid ? '0x01' : '0x00';
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({ url: `http://127.0.0.1:${port}`, calls, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

describe('contract-wallet sign-in through RPC_URLS', () => {
  let node: Awaited<ReturnType<typeof fakeNode>>;
  let h: Harness;
  beforeAll(async () => {
    node = await fakeNode('answer');
    h = await sqliteTarget.start({ env: { RPC_URLS: `1=${node.url}` } });
  });
  afterAll(async () => {
    await h.close();
    await node.close();
  });

  async function attempt(target: Harness, signature: Hex, address = WALLET): Promise<Response> {
    const nonce = await getNonce(target);
    const message = siweText(
      address.toLowerCase() === WALLET ? '0x1111111111111111111111111111111111111111' : address,
      nonce,
      target.clock!.now(),
    );
    return post(target, '/v1/auth/verify', { message, signature });
  }

  it('signs in a contract wallet whose ERC-1271/6492 check the chain accepts', async () => {
    const res = await attempt(h, WALLET_SIGNATURE);
    expect(res.status).toBe(200);
    expect((await json<Session>(res)).account.address).toBe('0x1111111111111111111111111111111111111111');
    expect(node.calls.length).toBeGreaterThan(0);
  });

  it('refuses a signature the contract wallet rejects', async () => {
    const res = await attempt(h, `0x${'cd'.repeat(100)}`);
    expect(res.status).toBe(401);
    expect((await json<ErrorBody>(res)).error.code).toBe('siwe_invalid_signature');
  });

  it('refuses contract-wallet signatures on a chain without an RPC URL', async () => {
    const plain = await sqliteTarget.start();
    try {
      const res = await attempt(plain, WALLET_SIGNATURE);
      expect(res.status).toBe(401);
      expect((await json<ErrorBody>(res)).error.code).toBe('siwe_invalid_signature');
    } finally {
      await plain.close();
    }
  });

  it('gives up on an RPC node that does not answer within RPC_TIMEOUT_MS', async () => {
    const silent = await fakeNode('hang');
    const slow = await sqliteTarget.start({ env: { RPC_URLS: `1=${silent.url}`, RPC_TIMEOUT_MS: '300' } });
    try {
      const started = Date.now();
      const res = await attempt(slow, WALLET_SIGNATURE);
      expect(res.status).toBe(401);
      expect((await json<ErrorBody>(res)).error.code).toBe('siwe_invalid_signature');
      expect(silent.calls.length).toBeGreaterThan(0);
      // Bounded by the timeout, not by the node: a generous ceiling, not a speed assertion.
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await slow.close();
      await silent.close();
    }
  });
});
