// The --hidden and --embedding-dim options shared by `npm run train` and `npm run eval`: the
// reference network's widths, overridable to trade serving time against accuracy.
import { InvalidArgumentError, type Command } from 'commander';
import { REFERENCE_TRAINING } from '../pipeline/train-ranker.ts';
import type { TrainOptions } from '../train/trainer.ts';
import { intArg } from './args.ts';

export interface ShapeOptions {
  hidden?: number[];
  embeddingDim?: number;
}

function widths(value: string): number[] {
  const sizes = value.split(',').map((part) => Number(part.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new InvalidArgumentError('--hidden must be positive integers separated by commas, e.g. 64,32');
  return sizes;
}

export function addShapeOptions(command: Command): Command {
  return command
    .option('--hidden <sizes>', 'shared-bottom layer widths, comma-separated (default: the reference shape\'s)', widths)
    .option('--embedding-dim <n>', 'embedding width of every categorical field (default: the reference shape\'s)', intArg(1));
}

/** The reference training recipe (shape, position tower start) with the widths given on the command line. */
export function referenceTraining(options: ShapeOptions): Pick<TrainOptions, 'shape' | 'positionInit'> {
  return {
    ...REFERENCE_TRAINING,
    shape: {
      ...REFERENCE_TRAINING.shape,
      ...(options.hidden ? { hidden: options.hidden } : {}),
      ...(options.embeddingDim !== undefined ? { embeddingDim: options.embeddingDim } : {}),
    },
  };
}
