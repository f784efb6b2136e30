// Types of gradcam-wasm's JS API (gradcam.mjs), written from what it returns: the engine's JSON
// (engine/src/api/result_json.cpp) and the objects gradcam.mjs builds around it. Errors are thrown
// as plain Error with a message a person can act on; the engine stays usable after any of them.

/** A method's name as `explain` takes it; `engine.info.names.methods` lists the engine's own. */
export type MethodName =
  | 'gradcam' | 'gradcam++' | 'gradcam++-paper' | 'xgradcam' | 'hirescam' | 'gradcam-elementwise' | 'layercam'
  | 'scorecam' | 'ablationcam' | 'eigencam' | 'eigengradcam' | 'segeigencam' | 'kpcacam' | 'fem' | 'shapleycam'
  | 'finercam' | 'fullgrad' | 'random' | 'random-noise'
  | 'saliency' | 'smoothgrad' | 'guided-backprop' | 'guided-gradcam'
  | 'integrated-gradients' | 'input-x-gradient' | 'gradient-shap' | 'deconvolution' | 'occlusion'
  | (string & {});
/** The methods `explainAll` runs: one forward and one backward pass gives every layer's map. */
export type AllLayersMethodName =
  | 'gradcam' | 'gradcam++' | 'gradcam++-paper' | 'xgradcam' | 'hirescam' | 'gradcam-elementwise' | 'layercam'
  | 'eigencam' | 'eigengradcam' | 'segeigencam' | 'kpcacam' | 'fem' | 'random' | 'random-noise' | (string & {});
/** What Integrated Gradients, GradientSHAP and occlusion measure from. */
export type BaselineName = 'black' | 'blur' | 'noise' | 'zero';
export type ScoreName = 'logit' | 'probability';
export type CropMode = 'center' | 'squash' | 'letterbox';
export type ColormapName = 'turbo' | 'jet' | 'viridis' | 'inferno' | (string & {});
export type MetricName = 'deletion' | 'insertion' | 'road' | 'confidence_change' | (string & {});

/** A model or labels file: a URL (fetched; in Node a path or file: URL is read from disk), the
 *  file's bytes, or a browser File/Blob. */
export type FileSource = string | URL | ArrayBuffer | ArrayBufferView | Blob;

/** What a model file may not say (ONNX models mostly). */
export interface ModelOptions {
  /** Per-channel normalisation, torchvision's x = (pixel/255 - mean) / std; null removes it. */
  mean?: readonly [number, number, number] | readonly number[] | null;
  std?: readonly [number, number, number] | readonly number[] | null;
  /** Class names, or a labels file (one name per line) as a URL/path, its bytes or its text. */
  labels?: readonly string[] | FileSource | null;
}

export interface LoadOptions extends ModelOptions {
  /** The model: safetensors, Keras (.h5, .keras; read with h5wasm) or ONNX, told apart by their
   *  bytes; or a TF.js model.json by URL/path (its .bin files and a Teachable Machine
   *  metadata.json read beside it), as a list of Files holding them, or as a .zip of them.
   *  Default: the package's shipped CIFAR-10 model. */
  model?: FileSource | readonly Blob[];
  /** A Keras weights-only file's architecture: a Keras config (Keras 3's config.json, Keras 2's
   *  model.to_json()) or the project's architecture JSON, as text or an object. */
  arch?: string | object;
  /** Input height and width for a model whose size is dynamic (ONNX, or a Keras config whose
   *  input is [null, null, null, 3]). */
  size?: number;
  /** Seconds a Keras file's HDF5 read may take before it is abandoned (0 < s <= 3600; default 60):
   *  a damaged file can send HDF5 into an endless loop. */
  hdf5Timeout?: number;
  /** Threads for the engine's passes, a whole number from 1 to 64; default the machine's cores
   *  (navigator.hardwareConcurrency), at most 8. More than one needs a cross-origin isolated page
   *  (COOP same-origin + COEP require-corp) and gradcam_core_threads.* beside the module; elsewhere
   *  (and in Node) the engine runs on one thread with the same answers: see `Engine.threads`. */
  threads?: number;
}

/** RGBA pixels, as a canvas's ImageData or `engine.decode` gives them. */
export interface ImageLike {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

export interface ExplainOptions {
  /** A conv layer (ONNX: a node or its output) name; 'auto' or absent: the model's default. */
  layer?: string;
  method?: MethodName;
  /** 'auto' (the top class), a class index, or a class name. */
  target?: 'auto' | number | (string & {});
  score?: ScoreName;
  crop?: CropMode;
  /** SmoothGrad's noisy copies (default 25) and GradientSHAP's draws (default 5), 1 to 1000. */
  samples?: number;
  /** Integrated Gradients' quadrature points, 1 to 1000 (default 50, Captum's). */
  steps?: number;
  /** Default: black for Integrated Gradients, drawn from black/blur/noise for GradientSHAP, zero for occlusion. */
  baseline?: BaselineName;
  /** Occlusion's square window and stride in input pixels (default: an eighth of the shorter side, and half of it). */
  window?: number;
  stride?: number;
  /** A layer map's first principal component instead of its channel sum (pytorch-grad-cam's eigen_smooth). */
  eigenSmooth?: boolean;
  /** The map averaged over six test-time augmentations (pytorch-grad-cam's aug_smooth). */
  augSmooth?: boolean;
}

export interface PredictOptions { crop?: CropMode }

export interface EvaluateOptions {
  /** Default: every metric (`info.names.metrics`). */
  metrics?: readonly MetricName[];
  /** Steps of the deletion/insertion/ROAD curves, 1 to 4096 (default 32). */
  steps?: number;
  crop?: CropMode;
}

export interface OverlayOptions { colormap?: ColormapName; alpha?: number }

export interface ClassScore { index: number; name: string; probability: number }
export interface ClassRef { index: number; name: string }

/** A map of floats, row by row. */
export interface FloatMap { width: number; height: number; data: Float32Array }

export interface Timings {
  decode?: number; preprocess?: number; forward?: number; backward?: number; cam?: number; total?: number;
  /** The whole call in JS, in ms. */
  call: number;
}

export interface Prediction {
  probabilities: Float32Array;
  logits: Float32Array;
  top: ClassScore[];
  /** The tensor the model was fed, in its input layout. */
  input: Float32Array;
}

export interface Explanation {
  probabilities: Float32Array;
  logits: Float32Array;
  top: ClassScore[];
  target: ClassScore;
  layer: { name: string; index: number; height: number; width: number; channels: number };
  method: string;
  score: ScoreName;
  /** One line, e.g. "cat (93.0%) · Grad-CAM for cat at conv2d_8 (8×8)". */
  summary: string;
  crop: CropMode;
  /** False for a model with random (untrained) weights: its maps mean nothing. Null where the file
   *  does not say (ONNX). */
  trained: boolean | null;
  cam: FloatMap;
  input: Float32Array;
  /** Captum's methods: the signed attribution per input value, laid out as `input`; null otherwise. */
  attribution: Float32Array | null;
  timings: Timings;
  /** The normalised map ([0,1]) resampled bilinearly to width x height. */
  heatmap(width?: number, height?: number): FloatMap;
  /** The image with the heat map blended over it, at the image's own size. */
  overlay(source?: ImageLike, options?: OverlayOptions): { width: number; height: number; data: Uint8ClampedArray };
}

export interface LayerExplanation {
  name: string;
  index: number;
  height: number;
  width: number;
  channels: number;
  cam: FloatMap;
  heatmap(width?: number, height?: number): FloatMap;
}

export interface AllLayersExplanation {
  probabilities: Float32Array;
  logits: Float32Array;
  top: ClassScore[];
  target: ClassRef;
  method: string;
  score: ScoreName;
  trained: boolean | null;
  layers: LayerExplanation[];
  timings: Timings;
}

export interface Curve { fraction: number[]; probability: number[]; auc: number }
export interface RoadResult { fraction: number[]; morf: number[]; lerf: number[]; morf_mean: number; lerf_mean: number }
/** The metrics asked for (default all): deletion and insertion curves (RISE), ROAD, confidence change. */
export interface Evaluation {
  deletion?: Curve;
  insertion?: Curve;
  road?: RoadResult;
  confidence_change?: number;
}

export interface SanityMap { width: number; height: number; values: number[] }
/** The model-randomisation check (Adebayo et al. 2018): the top layer first. */
export interface SanityCheck {
  original: SanityMap;
  steps: { layer: string; spearman: number; ssim: number; map: SanityMap }[];
}

/** explain's options checked and resolved without running anything. */
export interface ResolvedRequest {
  layer: string | null;
  method: string;
  /** A class index; -1 for the top class. */
  target: number;
  score: ScoreName;
  crop: CropMode;
  colormap: ColormapName;
  alpha: number;
  samples: number;
  steps: number;
  /** null: each method's own default. */
  baseline: BaselineName | null;
  window: number;
  stride: number;
  eigen_smooth: boolean;
  aug_smooth: boolean;
}

/** Where an image lands in the model's input: [x0, y0, x1, y1], normalised to [0,1]. */
export interface CropGeometry { src: [number, number, number, number]; dst: [number, number, number, number] }

export interface LayerInfo {
  name: string;
  type: string;
  /** [height, width, channels]; ONNX nodes: [1, channels, height, width]. */
  output: number[];
  kernel?: [number, number];
  strides?: [number, number];
  padding?: 'same' | 'valid';
  activation?: string;
  /** ONNX: the node's output tensor. */
  output_name?: string;
}

export interface MethodDetail {
  name: string;
  label: string;
  paper: string;
  /** Whether the map lives at a layer or at the input. */
  resolution: 'layer' | 'input';
  /** Whether explainAll runs it. */
  all_layers: boolean;
}

export interface NameTables {
  methods: string[];
  scores: string[];
  crops: string[];
  colormaps: string[];
  metrics: string[];
  ops: string[];
}

export interface EngineInfo {
  format: string;
  classes: string[];
  input: { height: number; width: number; channels: number; scale: number; mean?: number[]; std?: number[] };
  input_shape: number[];
  input_layout: 'NCHW' | 'NHWC';
  asks_for_input_options: boolean;
  layers: LayerInfo[];
  conv_layers: string[];
  explainable: string[];
  default_layer: string | null;
  nodes: number;
  methods: string[];
  method_details: MethodDetail[];
  names: NameTables;
  /** As Explanation.trained: null where the file does not say (ONNX). */
  trained: boolean | null;
  parameters: number;
  metadata: Record<string, string>;
}

export interface Engine {
  /** The model: classes, input, layers, methods and the names every option takes. */
  info: EngineInfo;
  /** The threads its passes run on: 1 on the single-threaded core. */
  readonly threads: number;
  /** PNG, JPEG, BMP or GIF bytes to RGBA pixels. */
  decode(bytes: ArrayBuffer | ArrayBufferView): { data: Uint8ClampedArray; width: number; height: number };
  predict(image: ImageLike, options?: PredictOptions): Prediction;
  explain(image: ImageLike, options?: ExplainOptions): Explanation;
  explainAll(image: ImageLike, options?: ExplainOptions): AllLayersExplanation;
  evaluate(image: ImageLike, result: Explanation, options?: EvaluateOptions): Evaluation;
  sanityCheck(image: ImageLike, options?: ExplainOptions): SanityCheck;
  parseRequest(options?: ExplainOptions & { colormap?: ColormapName; alpha?: number }): ResolvedRequest;
  cropGeometry(width: number, height: number, crop?: CropMode): CropGeometry;
  /** RGB of a colormap at t in [0,1]. */
  colormap(name: ColormapName, t: number): [number, number, number];
  /** New normalisation and/or class names; only the keys given change. Resolves with the new info. */
  setModelOptions(options: ModelOptions): Promise<EngineInfo>;
  dispose(): void;
}

/** Loads a model (default: the shipped CIFAR-10 model). All engines with the same thread count share one WebAssembly instance. */
export function loadEngine(options?: LoadOptions): Promise<Engine>;
