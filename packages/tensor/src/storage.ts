// Reference-counted ownership of one native buffer; views and autograd's saved tensors share it.
import { native, allocBuffer } from '@stellar/native';
import { DEVICE_CODE, type Device } from './device';

export class Storage {
  private refs = 1;
  constructor(readonly handle: number, readonly nbytes: number, readonly device: Device) {}

  static alloc(nbytes: number, device: Device): Storage {
    return new Storage(allocBuffer(nbytes, DEVICE_CODE[device]), nbytes, device);
  }

  get alive(): boolean { return this.refs > 0; }

  /** How many tensors hold this buffer: 1 means the holder may take it over instead of copying. */
  get refCount(): number { return this.refs; }

  retain(): this {
    if (this.refs <= 0) throw new Error('retain of a freed storage');
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) native.free(this.handle);
  }
}
