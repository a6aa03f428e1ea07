// The fixture file of the Refine Selection and confidence lens tests: a clean function and the same
// function with one planted token. With the fixture model the planted `;` is the token scored lowest
// in both scopes (the body for Refine Selection, the whole function for the lens); the tests assert
// that premise before relying on it, so a different model fails loudly instead of passing by chance.
export const HEAD = 'def is_prime(n):\n';
export const CLEAN_BODY =
  '    if n < 2:\n        return False\n    for i in range(2, n):\n        if n % i == 0:\n            return False\n    return True\n';
/** `return` replaced by `;` on the last line: the token the fixture model scores lowest in the body. */
export const PLANTED_BODY = CLEAN_BODY.replace('    return True', '    ; True');
export const PLANTED_AT = CLEAN_BODY.indexOf('return True');
export const TAIL = '\n\ndef square(x):\n    return x * x\n';
