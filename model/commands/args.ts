// Option parsers shared by the model commands: a bad value becomes commander's usage error naming
// the option, never a stack trace.
import { InvalidArgumentError } from 'commander';

/** An integer >= min. */
export const int = (name: string, min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return n;
};
