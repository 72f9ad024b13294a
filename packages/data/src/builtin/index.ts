// The built-in generated instruction / preference / prompt data.
export * from './rng';
export * from './wordnet';
export * from './tasks';
export * from './instructions';
export * from './corpus';
