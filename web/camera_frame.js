// A camera's video frames as RGBA pixels (ImageData), for the explorer's live camera (page.js).
//
// A camera's frames are YUV (NV12 or I420; 640x480 is what browsers ask a camera for by default):
// VideoFrame.copyTo copies their planes and yuvImageData converts them on the CPU. In headless
// Chromium here that took 4-5 ms a 640x480 frame against 15 ms for a canvas (drawImage +
// getImageData), which takes every other frame and every browser without VideoFrame. Both wait for
// the GPU to finish drawing the app's last frame first, which on a software GPU (SwiftShader) under
// load costs far more than either.

// Luma weights (kr, kb) of the YUV matrices cameras use: ITU-R BT.601 (named bt470bg or smpte170m)
// and BT.709.
const YUV_MATRICES = { smpte170m: [0.299, 0.114], bt470bg: [0.299, 0.114], bt709: [0.2126, 0.0722] };

// An NV12 or I420 VideoFrame as ImageData at its visible size, or null for any other format or
// matrix, or a frame whose display size is not its visible size (the canvas handles those).
// `buffer` is an optional {bytes} whose Uint8Array is reused from call to call.
// buffer.busyMs is set to the milliseconds the main thread spent on it, not counting the wait for
// copyTo's promise (other work runs meanwhile).
export async function yuvImageData(frame, buffer = {}) {
  const cs = frame.colorSpace || {};
  const weights = YUV_MATRICES[cs.matrix || 'smpte170m'];
  const rect = frame.visibleRect;
  if (!weights || !rect || !['NV12', 'I420'].includes(frame.format) ||
      frame.displayWidth !== rect.width || frame.displayHeight !== rect.height) return null;
  const size = frame.allocationSize();
  if (!buffer.bytes || buffer.bytes.length < size) buffer.bytes = new Uint8Array(size);
  const t0 = performance.now();
  const copied = frame.copyTo(buffer.bytes);
  const t1 = performance.now();
  const layout = await copied;
  const t2 = performance.now();
  const image = new ImageData(rect.width, rect.height);
  yuvToRgba(buffer.bytes, layout, frame.format === 'NV12', rect.width, rect.height, weights, !!cs.fullRange, image.data);
  buffer.busyMs = t1 - t0 + performance.now() - t2;
  return image;
}

// Y'CbCr to R'G'B' (the inverse of the matrix with luma weights kr, kb), limited range (Y' 16-235,
// chroma 16-240) unless full; chroma has half the resolution both ways (4:2:0), nearest sample.
function yuvToRgba(src, layout, nv12, w, h, [kr, kb], fullRange, out) {
  const kg = 1 - kr - kb;
  const ys = fullRange ? 1 : 255 / 219, yo = fullRange ? 0 : 16, cs = fullRange ? 1 : 255 / 224;
  const rv = 2 * (1 - kr) * cs, bu = 2 * (1 - kb) * cs;
  const gu = (2 * kb * (1 - kb) / kg) * cs, gv = (2 * kr * (1 - kr) / kg) * cs;
  const [yp, up, vp] = layout;
  for (let y = 0; y < h; y++) {
    const yRow = yp.offset + y * yp.stride;
    const uRow = up.offset + (y >> 1) * up.stride;
    const vRow = nv12 ? uRow + 1 : vp.offset + (y >> 1) * vp.stride;
    let o = y * w * 4;
    for (let x = 0; x < w; x++) {
      const c = nv12 ? (x >> 1) * 2 : x >> 1;
      const Y = (src[yRow + x] - yo) * ys, U = src[uRow + c] - 128, V = src[vRow + c] - 128;
      out[o] = Y + rv * V;  // a Uint8ClampedArray rounds and clamps
      out[o + 1] = Y - gu * U - gv * V;
      out[o + 2] = Y + bu * U;
      out[o + 3] = 255;
      o += 4;
    }
  }
}

// Reads a camera's frames (a <video>'s current one, or a VideoFrame) as ImageData at most maxSide
// pixels on its long side (a <video>: null before the first picture); `path` says how the last one was read: 'yuv' or 'canvas', and `busyMs` how
// long the main thread worked on it (the wall time may be longer: a YUV copy is awaited).
export class FrameGrabber {
  constructor(maxSide) {
    this.maxSide = maxSide;
    this.path = null;
    this.busyMs = 0;
    this.yuv = true;        // false once a frame could not be read as YUV: the canvas from then on
    this.buffer = {};       // yuvImageData's copy, reused
    this.canvas = null;
    this.context = null;
  }

  // A <video>'s current frame.
  async grab(video) {
    const vw = video.videoWidth, vh = video.videoHeight;
    if (!vw || !vh) return null;
    if (typeof VideoFrame === 'function') {
      const t0 = performance.now();
      const frame = new VideoFrame(video);
      const made = performance.now() - t0;
      try {
        const image = await this.read(frame);
        this.busyMs += made;
        return image;
      } finally {
        frame.close();
      }
    }
    this.path = 'canvas';
    const t0 = performance.now();
    const image = this.canvasImageData(video, vw, vh);
    this.busyMs = performance.now() - t0;
    return image;
  }

  // A VideoFrame (one made from a <video>, or any other); the caller closes it.
  async read(frame) {
    const w = frame.displayWidth, h = frame.displayHeight;
    if (this.yuv && Math.max(w, h) <= this.maxSide) {
      const image = await yuvImageData(frame, this.buffer);
      if (image) {
        this.path = 'yuv';
        this.busyMs = this.buffer.busyMs;
        return image;
      }
      this.yuv = false;
    }
    this.path = 'canvas';
    const t0 = performance.now();
    const image = this.canvasImageData(frame, w, h);
    this.busyMs = performance.now() - t0;
    return image;
  }

  // Any drawable source (a <video>, a VideoFrame) through a 2-D canvas, scaled to fit maxSide.
  canvasImageData(source, width, height) {
    const k = Math.min(1, this.maxSide / Math.max(width, height));
    const w = Math.max(1, Math.round(width * k)), h = Math.max(1, Math.round(height * k));
    if (!this.canvas || this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas = document.createElement('canvas');
      this.canvas.width = w;
      this.canvas.height = h;
      this.context = this.canvas.getContext('2d', { willReadFrequently: true });
    }
    this.context.drawImage(source, 0, 0, w, h);
    return this.context.getImageData(0, 0, w, h);
  }
}
