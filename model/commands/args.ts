// Option parsers for commander, shared by the model commands and the scripts: a bad value becomes
// commander's own usage error ("option '--x <n>' argument 'abc' is invalid. ...", exit 1), never a stack trace.
import { InvalidArgumentError } from 'commander';

/** An integer in [min, max]. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** A finite number in [min, max]. */
export function numberArg(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`must be a number from ${min} to ${max}`);
    return n;
  };
}
