// A progress bar over each training epoch's batches, for the training commands: on a terminal only
// (logs and pipes get the trainer's one line per epoch), on stderr, stopped before the epoch's line
// is printed so the two never interleave.
import cliProgress from 'cli-progress';
import type { TrainProgress } from '../train/trainer.ts';

export interface EpochProgress {
  /** the trainer's onProgress (undefined when not on a terminal) */
  onProgress: ((progress: TrainProgress) => void) | undefined;
  /** the trainer's log: stops a running bar, then prints */
  log: (line: string) => void;
}

export function epochProgress(print: (line: string) => void = (line) => console.log(line), enabled = process.stderr.isTTY === true): EpochProgress {
  let bar: cliProgress.SingleBar | undefined;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  const onProgress = (p: TrainProgress) => {
    if (!bar) {
      bar = new cliProgress.SingleBar(
        { stream: process.stderr, format: 'epoch {epoch}/{epochs} |{bar}| {value}/{total} batches | {rate} rows/s | loss {loss} | ETA {eta_formatted}', hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(p.batches, 0, { epoch: p.epoch, epochs: p.epochs, rate: '0', loss: '-' });
    }
    bar.update(p.batch, { epoch: p.epoch, epochs: p.epochs, rate: Math.round(p.rowsPerSecond).toLocaleString('en-US'), loss: p.loss.toFixed(5) });
    if (p.batch === p.batches) stop();
  };
  return {
    onProgress: enabled ? onProgress : undefined,
    log: (line) => {
      stop();
      print(line);
    },
  };
}
