// Devices a tensor can live on, and their codes in the addon.
export type Device = 'cpu' | 'cuda';
export const DEVICE_CODE: Record<Device, number> = { cpu: 0, cuda: 1 };
