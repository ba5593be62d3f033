// A model's own settings (quality, format, steps…) as the generate panel
// holds them: every value valid for the model, defaults where unset.
import type { ModelInfo, ParamSpec, ParamValue } from './api';

export type ParamValues = Record<string, ParamValue>;

function validFor(spec: ParamSpec, value: ParamValue | undefined): value is ParamValue {
  const kind = spec.kind;
  switch (kind.type) {
    case 'choice':
      return typeof value === 'string' && kind.options.some((o) => o.value === value);
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) && value >= kind.min && value <= kind.max;
    case 'bool':
      return typeof value === 'boolean';
  }
}

function defaultOf(spec: ParamSpec): ParamValue {
  return spec.kind.default;
}

/** `values` kept where valid for `model`, its defaults elsewhere; nothing it does not take. */
export function paramsFor(model: ModelInfo | null | undefined, values: ParamValues = {}): ParamValues {
  const out: ParamValues = {};
  for (const spec of model?.params ?? []) {
    const value = values[spec.id];
    out[spec.id] = validFor(spec, value) ? value : defaultOf(spec);
  }
  return out;
}

/** The estimate per image with these settings (a choice may set its own price). */
export function pricePerImage(model: ModelInfo, values: ParamValues): number {
  for (const spec of model.params) {
    if (spec.kind.type !== 'choice') continue;
    const chosen = spec.kind.options.find((o) => o.value === values[spec.id]);
    if (chosen?.price_per_image_micros != null) return chosen.price_per_image_micros;
  }
  return model.price.per_image_micros;
}
