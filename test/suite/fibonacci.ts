// The fixture file most in-host suites edit: two small functions, LF, a final newline. Tests select the
// body of fibonacci (lines 2-5, 0-based 1..4) and check what is written around it.
export const FIBONACCI_LINES = [
  'def fibonacci(n):',
  '    a, b = 0, 1',
  '    for _ in range(n):',
  '        a, b = b, a + b',
  '    return a',
  '',
  '',
  'def is_even(n):',
  '    return n % 2 == 0',
  '',
];
export const FIBONACCI = FIBONACCI_LINES.join('\n');
