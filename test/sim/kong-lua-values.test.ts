// The shortcuts in sim/kong/lua-values.ts (an integer's %g text, a string with nothing
// to escape) give exactly the text of the general path, which follows C's printf and
// cjson's escaping.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { cjsonEncode, encodeString, formatG, formatGGeneral, luaToString } from '../../sim/kong/lua-values';

describe('lua-values shortcuts', () => {
  it('formatG equals the general %g for integers and other doubles, precisions 14 and 16', () => {
    const fixed = [0, -0, 1, -1, 7, 100, 1e13, 99999999999999, 1e14, 123456789012345, 9999999999999999, 1e16, 12345678901234567, 2 ** 53, -(2 ** 53), 1e21, 1e300, 0.5, 1.25, 1765000000000.5];
    for (const p of [14, 16]) for (const n of fixed) expect(formatG(n, p)).toBe(formatGGeneral(n, p));
    fc.assert(fc.property(fc.oneof(fc.integer({ min: -(2 ** 53), max: 2 ** 53 }), fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true })), fc.constantFrom(14, 16), (n, p) => {
      expect(formatG(n, p)).toBe(formatGGeneral(n, p));
    }), { numRuns: 5000 });
  });

  it('printf texts: integers as digits, large ones with an exponent, -0 kept', () => {
    expect(luaToString(1234)).toBe('1234');
    expect(luaToString(1e14)).toBe('1e+14');            // %.14g: 15 digits need the exponent
    expect(cjsonEncode(1e14)).toBe('100000000000000');  // %.16g: they do not
    expect(cjsonEncode(1e16)).toBe('1e+16');
    expect(cjsonEncode(-0)).toBe('-0');
    expect(cjsonEncode(0.1)).toBe('0.1');
  });

  it('encodeString: escapes as cjson does, and copies a string with nothing to escape', () => {
    expect(encodeString('plain text é ☃')).toBe('"plain text é ☃"');
    expect(encodeString('a/b"c\\d\ne\tf\x01\x7f')).toBe('"a\\/b\\"c\\\\d\\ne\\tf\\u0001\\u007f"');
    expect(cjsonEncode({ uri: '/x?y=1', n: 3 })).toBe('{"uri":"\\/x?y=1","n":3}');
  });
});
