// Stage-specific losses that plug into the Trainer.
export * from './distill';
