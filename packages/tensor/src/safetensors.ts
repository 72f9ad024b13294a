// Safetensors read/write for @stellar/tensor: validating reader (file or bytes), atomic writer.
export { SafetensorsError } from './safetensors/errors';
export { readSafetensorsHeader, MAX_HEADER_BYTES, type SafetensorsEntry, type SafetensorsHeader } from './safetensors/header';
export { loadSafetensors, parseSafetensors, type LoadSafetensorsOptions, type LoadedSafetensors } from './safetensors/read';
export { saveSafetensors, serializeSafetensors, type NamedTensors } from './safetensors/write';
