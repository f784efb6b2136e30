// What a <gradcam-view> shows, read from its canvas in the page: size, how much of it the heat map
// changes (the same widget drawn again with alpha = 0, then put back), colour and brightness.
// `selector` finds the widget with document.querySelector.
export function canvasStats(page, selector) {
  return page.evaluate((sel) => {
    const w = document.querySelector(sel);
    const canvas = w.shadowRoot.querySelector('canvas');
    const display = getComputedStyle(canvas).display;
    if (!canvas.width || !canvas.height) {
      return { width: canvas.width, height: canvas.height, heat: 0, coloured: 0, opaque: 0, renderer: canvas.dataset.renderer, display };
    }
    const read = () => {
      const copy = document.createElement('canvas');
      copy.width = canvas.width;
      copy.height = canvas.height;
      const ctx = copy.getContext('2d');
      ctx.drawImage(canvas, 0, 0);
      return ctx.getImageData(0, 0, copy.width, copy.height).data;
    };
    const px = read();
    const alpha = w.getAttribute('alpha');
    w.setAttribute('alpha', '0');
    const plain = read();
    if (alpha === null) w.removeAttribute('alpha'); else w.setAttribute('alpha', alpha);
    let heat = 0, sum = 0, plainLight = 0, coloured = 0, opaque = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (Math.abs(px[i] - plain[i]) + Math.abs(px[i + 1] - plain[i + 1]) + Math.abs(px[i + 2] - plain[i + 2]) > 30) heat++;
      if (Math.max(px[i], px[i + 1], px[i + 2]) - Math.min(px[i], px[i + 1], px[i + 2]) > 30) coloured++;
      if (px[i + 3] > 0) opaque++;
      sum += px[i] + 2 * px[i + 1] + 3 * px[i + 2];
      plainLight += (plain[i] + plain[i + 1] + plain[i + 2]) / 3;
    }
    const n = px.length / 4;
    return { width: canvas.width, height: canvas.height, cssWidth: canvas.getBoundingClientRect().width,
      hostWidth: w.getBoundingClientRect().width, heat: heat / n, coloured: coloured / n, opaque: opaque / n,
      sum, plainMean: plainLight / n, renderer: canvas.dataset.renderer, display };
  }, selector);
}
