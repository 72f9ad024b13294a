// Training progress and metrics: progress bar, metrics.jsonl, TensorBoard event files, PNG plots.
export * from './progress';
export * from './jsonl';
export { crc32, crc32c, maskedCrc32c } from './crc';
export * from './tensorboard';
export { plotLines, renderPlot, linearAxis, logAxis, formatTick, PALETTE, type Series, type PlotOptions, type Axis, type RenderedPlot } from './plot';
export { encodePng } from './png';
export { savePlots } from './save-plots';
export * from './run-logger';
