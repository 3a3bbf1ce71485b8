// Peak finding on a decoded volumetric heatmap, on the GPU (one thread per voxel).
//
// A peak is a voxel strictly greater than `threshold` and strictly greater than each of its
// 6 (faces) or 26 (3x3x3 cube) neighbours; neighbours outside the volume are ignored (-inf)
// and a NaN neighbour vetoes (the comparison is false), exactly like loco_ros/decoding/peaks.py.
// Each peak takes a slot with atomicAdd on `count`; a peak whose slot is >= `capacity` is
// counted but not written, so `*count - capacity` peaks were dropped (never a crash).
// Slots are in no particular order: the host sorts them.
//
// Sub-voxel offset per axis (same as loco_ros.decoding.peaks.subvoxel_offsets), in double:
//   three values (f-, f0, f+) along the axis; 0 if a neighbour is outside or a value is not
//   finite; parabola vertex of the logs if all three are > 0, else of the raw values;
//   vertex (f- - f+) / (2 (f- - 2 f0 + f+)) only where the curvature is < 0, else 0;
//   clamped to [-0.5, 0.5].
//
// Plain CUDA C: compiled at run time by pycuda.compiler.SourceModule (no_extern_c=True) or
// cupy.RawKernel, and to PTX by `nvcc -ptx` in CI. Only CUDA built-ins that a C++ compiler
// can stand in for are used, so the tests also run this very code on the CPU (one "thread"
// walking the whole grid) against the numpy reference.

// Vertex of the parabola through (-1, minus), (0, centre), (1, plus); 0 unless a maximum.
__device__ __forceinline__ double loco_vertex(double minus, double centre, double plus) {
    const double curvature = minus - 2.0 * centre + plus;
    return curvature < 0.0 ? (minus - plus) / (2.0 * curvature) : 0.0;
}

// Sub-voxel offset along one axis from (f-, f0, f+); `inside` is false when a neighbour is
// outside the volume.
__device__ __forceinline__ float loco_axis_offset(bool inside, float fm, float f0, float fp) {
    if (!inside || !isfinite(fm) || !isfinite(f0) || !isfinite(fp)) {
        return 0.0f;
    }
    double offset;
    if (fm > 0.0f && f0 > 0.0f && fp > 0.0f) {
        offset = loco_vertex(log((double)fm), log((double)f0), log((double)fp));
    } else {
        offset = loco_vertex((double)fm, (double)f0, (double)fp);
    }
    return (float)fmin(0.5, fmax(-0.5, offset));
}

extern "C" __global__ void loco_find_peaks(
    const float* __restrict__ volume,  // (J, D, H, W) float32, C-contiguous
    const int J, const int D, const int H, const int W,
    const float threshold,             // strict: value > threshold
    const int neighbourhood,           // 6 (faces) or 26 (3x3x3 cube)
    const int subvoxel,                // 1: write offsets, 0: offsets = 0
    const int capacity,                // Mmax, rows of the output buffers
    unsigned int* __restrict__ count,  // (1,) peaks found, may exceed capacity; zeroed by host
    int* __restrict__ index,           // (Mmax, 4) int32 (k, d, h, w)
    float* __restrict__ value,         // (Mmax,) float32 heatmap value at the peak
    float* __restrict__ offset)        // (Mmax, 3) float32 sub-voxel (dd, dh, dw) in [-.5, .5]
{
    const long long plane = (long long)H * W;
    const long long volume_per_joint = (long long)D * plane;
    const long long total = (long long)J * volume_per_joint;
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const float v = volume[i];
        if (!(v > threshold)) {  // also rejects NaN
            continue;
        }
        const int w = (int)(i % W);
        const int h = (int)((i / W) % H);
        const int d = (int)((i / plane) % D);
        const int k = (int)(i / volume_per_joint);
        bool peak = true;
        for (int dd = -1; dd <= 1 && peak; ++dd) {
            for (int dh = -1; dh <= 1 && peak; ++dh) {
                for (int dw = -1; dw <= 1 && peak; ++dw) {
                    const int manhattan = (dd != 0) + (dh != 0) + (dw != 0);
                    if (manhattan == 0 || (neighbourhood == 6 && manhattan > 1)) {
                        continue;
                    }
                    const int nd = d + dd, nh = h + dh, nw = w + dw;
                    if (nd < 0 || nd >= D || nh < 0 || nh >= H || nw < 0 || nw >= W) {
                        continue;  // outside the volume: -inf
                    }
                    const float n = volume[i + (long long)dd * plane + (long long)dh * W + dw];
                    peak = v > n;  // false for NaN neighbours
                }
            }
        }
        if (!peak) {
            continue;
        }
        const unsigned int slot = atomicAdd(count, 1u);
        if (slot >= (unsigned int)capacity) {
            continue;  // counted, not written: overflow
        }
        index[4 * slot + 0] = k;
        index[4 * slot + 1] = d;
        index[4 * slot + 2] = h;
        index[4 * slot + 3] = w;
        value[slot] = v;
        float od = 0.0f, oh = 0.0f, ow = 0.0f;
        if (subvoxel) {
            const bool in_d = d > 0 && d < D - 1;
            const bool in_h = h > 0 && h < H - 1;
            const bool in_w = w > 0 && w < W - 1;
            od = loco_axis_offset(in_d, in_d ? volume[i - plane] : 0.0f, v,
                                  in_d ? volume[i + plane] : 0.0f);
            oh = loco_axis_offset(in_h, in_h ? volume[i - W] : 0.0f, v,
                                  in_h ? volume[i + W] : 0.0f);
            ow = loco_axis_offset(in_w, in_w ? volume[i - 1] : 0.0f, v,
                                  in_w ? volume[i + 1] : 0.0f);
        }
        offset[3 * slot + 0] = od;
        offset[3 * slot + 1] = oh;
        offset[3 * slot + 2] = ow;
    }
}
