// Node-only webhook sender: node:http(s) with a DNS lookup that refuses private addresses at
// connect time, so a name cannot pass the check and then resolve (or rebind) to an internal address.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup as dnsLookupAll } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Sender } from './services/webhook-delivery.js';
import { checkWebhookUrl, isPrivateAddress } from './services/webhook-url.js';

/** Refuses the connection when any address the name resolves to is private (unless allowed). */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return ((
    hostname: string,
    options: object,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses as LookupAddress[];
      if (!allowPrivate && list.some((a) => isPrivateAddress(a.address))) {
        const e: NodeJS.ErrnoException = new Error(`blocked: ${hostname} resolves to a private address`);
        e.code = 'EBLOCKED';
        return callback(e, '');
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      return callback(null, list[0].address, list[0].family);
    });
  }) as LookupFunction;
}

export const nodeSender: Sender = (req) =>
  new Promise((resolve) => {
    const checked = checkWebhookUrl(req.url, req.allowPrivate);
    if (!checked.url) return resolve({ error: `blocked: ${checked.refusal}` });
    const url = checked.url;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (r: { status: number } | { error: string }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    // Redirects are not followed (node:http never does): a 3xx is an answer, and not a 2xx.
    const r = send(
      url,
      {
        method: 'POST',
        headers: { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) },
        lookup: guardedLookup(req.allowPrivate),
      },
      (res) => {
        res.resume(); // the body is not needed
        finish({ status: res.statusCode ?? 0 });
      },
    );
    const timer = setTimeout(() => {
      finish({ error: 'timeout' });
      r.destroy();
    }, req.timeoutMs);
    r.on('error', (err: NodeJS.ErrnoException) =>
      finish({ error: err.code === 'EBLOCKED' ? err.message : `network error: ${err.code ?? err.message}`.slice(0, 200) }),
    );
    r.end(req.body);
  });

/** All addresses of a name (registration check). */
export async function resolveAll(host: string): Promise<string[]> {
  return (await dnsLookupAll(host, { all: true })).map((a) => a.address);
}
