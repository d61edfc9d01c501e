// jsdom has no canvas: answering null makes Chart.svelte skip drawing (its table still renders)
// instead of jsdom printing "not implemented" for every chart.
HTMLCanvasElement.prototype.getContext = (() => null) as typeof HTMLCanvasElement.prototype.getContext;
