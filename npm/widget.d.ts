// Types of gradcam-wasm/widget: importing it registers the <gradcam-view> element.
import type { BaselineName, ClassScore, ColormapName, CropMode, MethodName, ScoreName, Timings } from './index.js';

/** What 'gradcam-result' carries and element.result holds (web/widget.js). */
export interface GradcamViewResult {
  top: ClassScore[];
  target: ClassScore;
  /** The explained layer's name. */
  layer: string;
  method: string;
  score: ScoreName;
  cam: { width: number; height: number };
  trained: boolean | null;
  timings_ms: Timings;
}

export interface GradcamViewEventMap extends HTMLElementEventMap {
  'gradcam-result': CustomEvent<GradcamViewResult>;
  'gradcam-error': CustomEvent<{ message: string }>;
}

/** <gradcam-view src="cat.jpg" layer="conv2d_6" method="gradcam"></gradcam-view>: every
 *  attribute is also readable through getAttribute; these are their values. */
export interface GradcamViewAttributes {
  src: string;
  /** Default: the package's shipped model. */
  model?: string;
  mean?: string;
  std?: string;
  labels?: string;
  layer?: string;
  method?: MethodName;
  target?: string;
  score?: ScoreName;
  crop?: CropMode;
  colormap?: ColormapName;
  alpha?: string;
  /** SmoothGrad's copies / GradientSHAP's draws; Integrated Gradients' steps; occlusion's window and stride. */
  samples?: string;
  steps?: string;
  baseline?: BaselineName;
  window?: string;
  stride?: string;
  /** Boolean attributes: present (or "true") turns them on. */
  'eigen-smooth'?: '' | 'true' | 'false';
  'aug-smooth'?: '' | 'true' | 'false';
  upsample?: 'bicubic' | 'bilinear';
  view?: 'overlay' | 'side-by-side';
}

export declare class GradcamView extends HTMLElement {
  static readonly observedAttributes: string[];
  /** The last result; null before the first and after an error. */
  readonly result: GradcamViewResult | null;
  addEventListener<K extends keyof GradcamViewEventMap>(type: K,
    listener: (this: GradcamView, ev: GradcamViewEventMap[K]) => unknown, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof GradcamViewEventMap>(type: K,
    listener: (this: GradcamView, ev: GradcamViewEventMap[K]) => unknown, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap { 'gradcam-view': GradcamView }
  interface HTMLElementEventMap {
    'gradcam-result': CustomEvent<GradcamViewResult>;
    'gradcam-error': CustomEvent<{ message: string }>;
  }
}
