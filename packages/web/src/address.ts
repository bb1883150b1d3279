import { getAddress } from 'viem';

/**
 * The result of checking a wallet address someone typed or pasted (EIP-55). An all-lower-case or
 * all-upper-case address carries no checksum and is accepted as is; a mixed-case one is a checksum,
 * and a wrong one means a mistyped character, so it is refused before anything is sent.
 */
export type AddressCheck =
  | { ok: true; address: `0x${string}`; checksummed: boolean }
  | { ok: false; code: 'invalid_address' | 'bad_checksum'; message: string };

export function checkAddress(input: string): AddressCheck {
  const text = input.trim();
  if (!/^0x[0-9a-fA-F]{40}$/.test(text)) {
    return {
      ok: false,
      code: 'invalid_address',
      message: 'Enter a wallet address: 0x followed by 40 hexadecimal characters (0-9, a-f).',
    };
  }
  const hex = text.slice(2);
  const address = getAddress(`0x${hex.toLowerCase()}`);
  if (hex === hex.toLowerCase() || hex === hex.toUpperCase()) return { ok: true, address, checksummed: false };
  if (address !== text) {
    return {
      ok: false,
      code: 'bad_checksum',
      message:
        'This address fails its EIP-55 checksum: the upper/lower case of its letters does not match, so a character is ' +
        'probably mistyped. Copy the address again from its wallet.',
    };
  }
  return { ok: true, address, checksummed: true };
}
