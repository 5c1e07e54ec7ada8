// Trainer throughput on a generated synthetic set: 200k rows, 6 categorical fields (embedding dim
// 12), 16 numeric features, bottom 128-64, batch 1024, one thread.
// Run: npx tsx scripts/bench-train.ts [rows] [epochs] [simd|js]
import type { KernelBackend } from '../model/train/kernels.ts';
import { generateSynthetic } from '../model/train/synthetic.ts';
import { train } from '../model/train/trainer.ts';
import { auc } from '../model/train/metrics.ts';

const rows = Number(process.argv[2] ?? 200_000);
const epochs = Number(process.argv[3] ?? 2);
const kernels = (process.argv[4] ?? 'simd') as KernelBackend;
const vocabSizes = [10_000, 5_000, 1_000, 200, 20, 4];

const generated = performance.now();
const { set, trueCtr } = generateSynthetic({ rows, vocabSizes, numericDim: 16, seed: 7 });
console.log(`generated ${rows} rows in ${((performance.now() - generated) / 1000).toFixed(1)} s`);

const result = train(set, {
  shape: { embeddingDim: 12, hidden: [128, 64] },
  epochs,
  patience: epochs,
  seed: 1,
  kernels,
});
const rates = result.history.map((e) => e.rowsPerSecond);
const validationRows = Math.round(rows * 0.1);
const oracle = auc(trueCtr.subarray(rows - validationRows), set.click.subarray(rows - validationRows));
console.log(`training throughput: ${rates.map((r) => `${(r / 1000).toFixed(1)}k`).join(', ')} rows/s per epoch (${kernels} kernels, one thread; epoch 1 includes wasm/JIT warm-up)`);
console.log(`validation ctr auc ${result.validation?.ctrAuc.toFixed(4)} vs oracle ${oracle.toFixed(4)} (position-free truth)`);
