// The raw shape of the addon: integer buffer handles, byte I/O, kernels executed by id with packed args.
export declare namespace Binding {
  interface MemStats {
    /** Bytes held by live buffers (rounded to allocator size classes). */
    liveBytes: number;
    peakBytes: number;
    /** Freed blocks kept by the caching allocator for reuse. */
    cachedBytes: number;
    liveBuffers: number;
    allocs: number;
    cacheHits: number;
  }
  interface CpuFeatures {
    avx2: boolean; fma: boolean; f16c: boolean; avx512f: boolean; avx512bw: boolean; avx512bf16: boolean; avx512vnni: boolean;
  }
  interface BuildInfo { cudaCompiled: boolean; blas: string }
  interface Addon {
    alloc(nbytes: number, device: number): number;
    free(handle: number): void;
    write(handle: number, byteOffset: number, src: ArrayBufferView): void;
    readInto(handle: number, byteOffset: number, dst: ArrayBufferView): void;
    kernelId(name: string): number;
    kernels(): string[];
    exec(kernelId: number, args: Float64Array): void;
    memStats(): MemStats;
    resetPeak(): void;
    emptyCache(): void;
    numThreads(): number;
    setNumThreads(n: number): void;
    cpuFeatures(): CpuFeatures;
    buildInfo(): BuildInfo;
    cudaDeviceCount(): number;
  }
}
