// The --hidden, --embedding-dim and --teachers options shared by `npm run train` and `npm run eval`:
// the reference network's widths, overridable to trade serving time against accuracy, and how many
// teachers it is distilled from, to trade training time against accuracy.
import { InvalidArgumentError, type Command } from 'commander';
import { REFERENCE_DISTILL, REFERENCE_TRAINING } from '../pipeline/train-ranker.ts';
import type { DistillOptions } from '../train/distill.ts';
import type { TrainOptions } from '../train/trainer.ts';
import { intArg } from './args.ts';

export interface ShapeOptions {
  hidden?: number[];
  embeddingDim?: number;
  teachers?: number;
}

function widths(value: string): number[] {
  const sizes = value.split(',').map((part) => Number(part.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new InvalidArgumentError('--hidden must be positive integers separated by commas, e.g. 64,32');
  return sizes;
}

export function addShapeOptions(command: Command): Command {
  return command
    .option('--hidden <sizes>', 'shared-bottom layer widths, comma-separated (default: the reference shape\'s)', widths)
    .option('--embedding-dim <n>', 'embedding width of every categorical field (default: the reference shape\'s)', intArg(1))
    .option('--teachers <n>', `networks trained first whose mean predictions the served one is trained on; 0: the logged labels only (default ${REFERENCE_DISTILL.teachers})`, intArg(0));
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

/** The reference distillation with the number of teachers given on the command line. */
export function referenceDistill(options: ShapeOptions): DistillOptions {
  return { ...REFERENCE_DISTILL, ...(options.teachers !== undefined ? { teachers: options.teachers } : {}) };
}
