import { getAddress, stringToHex } from 'viem';

/** EIP-1193: the one method every injected wallet has, plus its optional events. */
export interface Eip1193Provider {
  request(args: { method: string; params?: readonly unknown[] }): Promise<unknown>;
  on?(event: string, listener: (...args: never[]) => void): unknown;
  removeListener?(event: string, listener: (...args: never[]) => void): unknown;
}

/** EIP-6963 provider info. */
export interface WalletInfo {
  uuid: string;
  name: string;
  icon: string;
  rdns: string;
}

export interface Wallet {
  info: WalletInfo;
  provider: Eip1193Provider;
  /** True for the legacy `window.ethereum` fallback (no EIP-6963 announcement seen). */
  legacy: boolean;
}

interface AnnounceDetail {
  info?: Partial<WalletInfo>;
  provider?: Eip1193Provider;
}

declare global {
  interface Window {
    ethereum?: Eip1193Provider;
  }
}

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * Listens for EIP-6963 announcements (and asks for them); calls `onChange` with the current list
 * whenever a wallet appears. Falls back to `window.ethereum` only while nobody announced, so one
 * wallet that does both (MetaMask) is not listed twice.
 */
export function watchWallets(onChange: (wallets: Wallet[]) => void): () => Wallet[] {
  const announced = new Map<string, Wallet>();
  const list = (): Wallet[] => {
    if (announced.size > 0) return [...announced.values()];
    const legacy = window.ethereum;
    if (legacy && typeof legacy.request === 'function') {
      return [{ info: { uuid: 'legacy-injected', name: 'Browser wallet', icon: '', rdns: '' }, provider: legacy, legacy: true }];
    }
    return [];
  };
  window.addEventListener('eip6963:announceProvider', (ev: Event) => {
    const detail = (ev as CustomEvent<AnnounceDetail>).detail;
    const info = detail?.info;
    const provider = detail?.provider;
    // Any extension can announce; accept only well-formed announcements and render them as text.
    if (!info || !isStr(info.uuid) || !isStr(info.name) || !provider || typeof provider.request !== 'function') return;
    const icon = isStr(info.icon) && /^data:image\/(svg\+xml|png|webp|jpeg|gif)[;,]/i.test(info.icon) ? info.icon : '';
    announced.set(info.uuid, {
      info: { uuid: info.uuid, name: info.name.slice(0, 60), icon, rdns: isStr(info.rdns) ? info.rdns : '' },
      provider,
      legacy: false,
    });
    onChange(list());
  });
  window.dispatchEvent(new Event('eip6963:requestProvider'));
  return list;
}

export type WalletErrorKind = 'rejected' | 'pending' | 'unknown_chain' | 'unsupported' | 'other';

function codeOf(err: unknown): number | null {
  if (typeof err !== 'object' || err === null) return null;
  const e = err as { code?: unknown; data?: { originalError?: { code?: unknown } }; cause?: unknown };
  if (typeof e.code === 'number') {
    // Some wallets wrap "unknown chain" in a generic internal error (-32603).
    const inner = e.data?.originalError?.code;
    if (e.code === -32603 && typeof inner === 'number') return inner;
    return e.code;
  }
  return e.cause !== undefined ? codeOf(e.cause) : null;
}

/** Sorts a wallet's error into the states the page explains (EIP-1193 / EIP-1474 / EIP-3326 codes). */
export function walletErrorKind(err: unknown): WalletErrorKind {
  switch (codeOf(err)) {
    case 4001:
      return 'rejected';
    case -32002:
      return 'pending';
    case 4902:
      return 'unknown_chain';
    case 4200:
    case -32601:
      return 'unsupported';
    default:
      return 'other';
  }
}

export function walletErrorMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return 'The wallet reported an error.';
}

function parseChainId(v: unknown): number {
  if (typeof v === 'string') return v.startsWith('0x') ? Number.parseInt(v, 16) : Number.parseInt(v, 10);
  if (typeof v === 'number') return v;
  throw new Error('The wallet returned no chain id.');
}

export async function requestAccounts(p: Eip1193Provider): Promise<`0x${string}`> {
  const accounts = await p.request({ method: 'eth_requestAccounts' });
  if (!Array.isArray(accounts) || !isStr(accounts[0])) throw new Error('The wallet shared no account.');
  return getAddress(accounts[0]);
}

export async function currentChainId(p: Eip1193Provider): Promise<number> {
  return parseChainId(await p.request({ method: 'eth_chainId' }));
}

export async function switchChain(p: Eip1193Provider, chainId: number): Promise<void> {
  await p.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: `0x${chainId.toString(16)}` }] });
}

/** EIP-191 personal_sign over the exact message text (hex-encoded UTF-8, as wallets expect). */
export async function personalSign(p: Eip1193Provider, message: string, address: string): Promise<`0x${string}`> {
  const sig = await p.request({ method: 'personal_sign', params: [stringToHex(message), address] });
  if (typeof sig !== 'string' || !/^0x[0-9a-fA-F]+$/.test(sig)) throw new Error('The wallet returned no signature.');
  return sig as `0x${string}`;
}

export function onWalletEvent(p: Eip1193Provider, event: 'accountsChanged' | 'chainChanged', fn: (value: unknown) => void): void {
  p.on?.(event, fn as (...args: never[]) => void);
}

export function chainIdOf(value: unknown): number | null {
  try {
    const n = parseChainId(value);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

const CHAIN_NAMES: Record<number, string> = {
  1: 'Ethereum',
  10: 'OP Mainnet',
  56: 'BNB Smart Chain',
  100: 'Gnosis',
  137: 'Polygon',
  324: 'zkSync Era',
  8453: 'Base',
  17000: 'Holesky',
  31337: 'Local (Anvil/Hardhat)',
  42161: 'Arbitrum One',
  43114: 'Avalanche',
  59144: 'Linea',
  84532: 'Base Sepolia',
  11155111: 'Sepolia',
};

export function chainName(id: number): string {
  const name = CHAIN_NAMES[id];
  return name ? `${name} (chain ${id})` : `chain ${id}`;
}
