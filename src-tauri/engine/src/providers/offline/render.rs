//! Procedural landscape renderer behind the built-in offline provider.
//!
//! The picture is a function of `(prompt, seed, width, height)` only. All
//! randomness comes from our own integer hashes (not `rand`, whose generators
//! may change between releases), and the maths uses only `+ - * /`, `sqrt`,
//! `floor` and `abs`, which IEEE 754 rounds identically on every platform
//! (unlike `sin`/`exp`/`powf`, whose results depend on the platform's libm).
//!
//! Words of the prompt pick a palette family (warm, cool, night, forest,
//! dream) and a terrain style (mountains or sea); the seed, mixed with the
//! prompt hash, drives the composition: horizon height, sun/moon placement,
//! number and shape of the layered silhouettes.

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, ImageError, RgbImage};

/// Linear RGB in 0..=255 (we paint directly in sRGB values; it looks right
/// for soft gradients and keeps the maths trivial).
type Rgb = [f32; 3];

/// Renders the landscape for `prompt` and `seed` at `width` x `height`.
///
/// A zero width or height gives an empty image. Like [`RgbImage::new`], this
/// panics if the pixel buffer size overflows `usize`; callers bound the size.
pub fn render(prompt: &str, seed: u64, width: u32, height: u32) -> RgbImage {
    let mut img = RgbImage::new(width, height);
    if width == 0 || height == 0 {
        return img;
    }
    let scene = Scene::new(prompt, seed, width, height);
    scene.paint(&mut img);
    img
}

/// [`render`], encoded as PNG.
pub fn render_png(prompt: &str, seed: u64, width: u32, height: u32) -> Result<Vec<u8>, ImageError> {
    let img = render(prompt, seed, width, height);
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(img.as_raw(), width, height, ExtendedColorType::Rgb8)?;
    Ok(out)
}

/// The remix model: the landscape for `prompt` and `seed`, painted over the
/// reference images (scaled to fill the frame, averaged), so the result
/// visibly follows the references.
pub fn remix_png(
    references: &[image::DynamicImage],
    prompt: &str,
    seed: u64,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, ImageError> {
    let mut img = render(prompt, seed, width, height);
    if !references.is_empty() {
        let scaled: Vec<RgbImage> = references
            .iter()
            .map(|r| {
                r.resize_to_fill(width, height, image::imageops::FilterType::Triangle)
                    .to_rgb8()
            })
            .collect();
        let n = scaled.len() as u32;
        for (x, y, px) in img.enumerate_pixels_mut() {
            for c in 0..3 {
                let reference: u32 = scaled
                    .iter()
                    .map(|s| u32::from(s.get_pixel(x, y)[c]))
                    .sum::<u32>()
                    / n;
                // 65 % reference, 35 % landscape.
                px[c] = ((reference * 65 + u32::from(px[c]) * 35) / 100) as u8;
            }
        }
    }
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(img.as_raw(), width, height, ExtendedColorType::Rgb8)?;
    Ok(out)
}

// ---------------------------------------------------------------------------
// Hashing and noise

/// FNV-1a: a stable byte hash (std's `DefaultHasher` is not guaranteed stable).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64 finaliser: turns any input into well-mixed bits.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Cheap per-pixel hash for grain and stars (called once per pixel).
fn hash32(x: u32, y: u32, seed: u32) -> u32 {
    let mut h = x.wrapping_mul(0x9e37_79b1) ^ y.wrapping_mul(0x85eb_ca77) ^ seed;
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297a_2d39);
    h ^ (h >> 15)
}

/// SplitMix64 stream for the scene layout.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [lo, hi].
    fn int(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi - lo + 1);
        lo + (((self.next_u64() >> 32) * span) >> 32) as u32
    }
}

/// Lattice value in [0, 1) for 1-D value noise.
fn lattice(i: i64, seed: u64) -> f32 {
    let h = mix64(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (h >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
}

/// Smoothly interpolated 1-D value noise in [0, 1).
fn value_noise(u: f32, seed: u64) -> f32 {
    let i = u.floor();
    let f = u - i;
    let a = lattice(i as i64, seed);
    let b = lattice(i as i64 + 1, seed);
    let t = f * f * (3.0 - 2.0 * f);
    a + (b - a) * t
}

/// Fractal sum of value noise: `sharp` blends smooth hills (0) into ridged,
/// pointy peaks (1).
fn ridge_noise(u: f32, seed: u64, octaves: u32, sharp: f32) -> f32 {
    let (mut sum, mut norm, mut amp, mut freq) = (0.0f32, 0.0f32, 1.0f32, 1.0f32);
    for o in 0..octaves {
        let n = value_noise(u * freq, seed.wrapping_add(u64::from(o) * 0x1000_0001));
        let ridged = 1.0 - (2.0 * n - 1.0).abs();
        sum += amp * (n + (ridged * ridged - n) * sharp);
        norm += amp;
        amp *= 0.5;
        freq *= 2.03;
    }
    sum / norm
}

// ---------------------------------------------------------------------------
// Colour

fn rgb(hex: u32) -> Rgb {
    [
        ((hex >> 16) & 0xff) as f32,
        ((hex >> 8) & 0xff) as f32,
        (hex & 0xff) as f32,
    ]
}

fn lerp(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn scale(a: Rgb, k: f32) -> Rgb {
    [a[0] * k, a[1] * k, a[2] * k]
}

fn smooth(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Hand-picked palette: sky stops, light source, far haze and near land.
#[derive(Clone, Copy)]
struct PaletteDef {
    top: u32,
    mid: u32,
    horizon: u32,
    sun: u32,
    glow: u32,
    land: u32,
    mist: u32,
}

const fn pal(
    top: u32,
    mid: u32,
    horizon: u32,
    sun: u32,
    glow: u32,
    land: u32,
    mist: u32,
) -> PaletteDef {
    PaletteDef {
        top,
        mid,
        horizon,
        sun,
        glow,
        land,
        mist,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    Warm,
    Cool,
    Night,
    Forest,
    Dream,
}

const FAMILIES: [Family; 5] = [
    Family::Warm,
    Family::Cool,
    Family::Night,
    Family::Forest,
    Family::Dream,
];

// Columns: sky top, sky mid, horizon, sun/moon, glow, near land, far mist.
#[rustfmt::skip]
const WARM: [PaletteDef; 3] = [
    pal(0x2b1b4a, 0xc2476b, 0xffb36b, 0xfff1c9, 0xff8a4c, 0x2a1224, 0xe87a5d),
    pal(0x4a6fa5, 0xf0a860, 0xffd9a0, 0xfffbe8, 0xffc36e, 0x5a2e1a, 0xe8a66f),
    pal(0x3a0f1e, 0xa8321f, 0xff9a3c, 0xffe39a, 0xff6a2a, 0x1e0a0a, 0xc2502e),
];
#[rustfmt::skip]
const COOL: [PaletteDef; 3] = [
    pal(0x1d4e89, 0x5fa8d3, 0xcdeaf5, 0xffffff, 0xe8f7ff, 0x0b2a4a, 0x9cc9e0),
    pal(0x3b5b8c, 0x9ec1e0, 0xeef6fb, 0xfffdf5, 0xdff0ff, 0x2c4a6e, 0xc9dff0),
    pal(0x0f2a3f, 0x2f6f8f, 0x8fd0d0, 0xf0fff8, 0xa0e8e0, 0x06161f, 0x5fa6ad),
];
#[rustfmt::skip]
const NIGHT: [PaletteDef; 3] = [
    pal(0x050814, 0x14224a, 0x3a4f82, 0xf4f1de, 0x8fa3d9, 0x03050c, 0x2a3a66),
    pal(0x0a0420, 0x2c1457, 0x6a3f8f, 0xfbe9ff, 0xb58ad9, 0x08031a, 0x4a2a70),
    pal(0x020c14, 0x0c3340, 0x2a7a6f, 0xeafff6, 0x6fd6b8, 0x010a0c, 0x1f5a55),
];
#[rustfmt::skip]
const FOREST: [PaletteDef; 3] = [
    pal(0x6f9fc0, 0xb5d6c8, 0xe8f0d8, 0xfffdf0, 0xfff2c0, 0x0f2a1a, 0xa8c8a8),
    pal(0x2f5d62, 0x8fbf9f, 0xf3e9c6, 0xfff8e1, 0xffe6a0, 0x0b2016, 0x7fa88a),
    pal(0x5aa0d8, 0xa8d8e8, 0xf0f8e0, 0xffffff, 0xfff8d0, 0x1f4a1f, 0x9fcf8f),
];
#[rustfmt::skip]
const DREAM: [PaletteDef; 3] = [
    pal(0x5b4b8a, 0xe0a3c8, 0xffe0e6, 0xfffaf0, 0xffd0e0, 0x3a2450, 0xd7a8cf),
    pal(0x2e2a5a, 0x8a7fc4, 0xf2c6de, 0xfff5f8, 0xf7b8d0, 0x1e1a3a, 0xa99ad0),
    pal(0x7fc8c8, 0xf5d6c6, 0xffeedd, 0xffffff, 0xffe0c8, 0x355c5c, 0xe0c0b8),
];

fn palettes(f: Family) -> &'static [PaletteDef; 3] {
    match f {
        Family::Warm => &WARM,
        Family::Cool => &COOL,
        Family::Night => &NIGHT,
        Family::Forest => &FOREST,
        Family::Dream => &DREAM,
    }
}

#[rustfmt::skip]
const WARM_WORDS: &[&str] = &[
    "sunset", "sunrise", "dusk", "dawn", "fire", "flame", "autumn", "fall", "desert", "golden",
    "gold", "orange", "red", "warm", "summer", "lava", "volcano", "volcanic", "ember", "amber",
    "copper", "rust", "heat", "hot", "canyon", "sahara", "dune", "savanna", "harvest", "pumpkin",
    "sun", "burning",
];
#[rustfmt::skip]
const COOL_WORDS: &[&str] = &[
    "ocean", "sea", "wave", "ice", "icy", "snow", "snowy", "winter", "frozen", "frost", "blue",
    "arctic", "antarctic", "glacier", "river", "lake", "rain", "rainy", "cold", "water", "beach",
    "coast", "shore", "tide", "storm", "fjord", "surf", "sky",
];
#[rustfmt::skip]
const NIGHT_WORDS: &[&str] = &[
    "night", "moon", "moonlit", "moonlight", "midnight", "star", "starry", "galaxy", "space",
    "cosmic", "nebula", "dark", "darkness", "twilight", "evening", "noir", "aurora", "nocturne",
];
#[rustfmt::skip]
const FOREST_WORDS: &[&str] = &[
    "forest", "jungle", "green", "tree", "meadow", "spring", "garden", "moss", "mossy", "leaf",
    "leaves", "valley", "grass", "grassy", "nature", "wood", "woodland", "fern", "pine", "hill",
    "emerald", "field",
];
#[rustfmt::skip]
const DREAM_WORDS: &[&str] = &[
    "dream", "dreamy", "pink", "candy", "pastel", "fairy", "cherry", "blossom", "lavender",
    "purple", "magic", "magical", "violet", "rose", "unicorn", "cotton", "soft", "cloud", "cute",
];
/// Words that turn the scene into open water with waves.
#[rustfmt::skip]
const SEA_WORDS: &[&str] = &[
    "ocean", "sea", "wave", "water", "beach", "coast", "shore", "tide", "surf", "sail", "sailing",
    "boat", "island", "harbor", "harbour", "bay", "lagoon", "lake",
];
/// Time-of-day words decide the sky more than the scenery words do.
#[rustfmt::skip]
const STRONG_WORDS: &[&str] = &[
    "sunset", "sunrise", "dusk", "dawn", "night", "midnight", "moon", "moonlit", "moonlight",
    "twilight",
];

fn family_words(f: Family) -> &'static [&'static str] {
    match f {
        Family::Warm => WARM_WORDS,
        Family::Cool => COOL_WORDS,
        Family::Night => NIGHT_WORDS,
        Family::Forest => FOREST_WORDS,
        Family::Dream => DREAM_WORDS,
    }
}

/// Whether `word` (lowercase) is in `list`, also trying a naive singular.
fn matches(list: &[&str], word: &str) -> bool {
    list.contains(&word)
        || (word.len() > 3 && word.ends_with('s') && list.contains(&&word[..word.len() - 1]))
}

/// What the prompt's words ask for.
struct Mood {
    family: Family,
    sea: bool,
}

fn read_mood(prompt: &str, prompt_hash: u64) -> Mood {
    // Score per family; ties go to the family mentioned first.
    let mut score = [0u32; 5];
    let mut first = [usize::MAX; 5];
    let mut sea = false;
    let words = prompt
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty());
    for (pos, word) in words.enumerate() {
        let word = word.to_ascii_lowercase();
        for (k, f) in FAMILIES.iter().enumerate() {
            if matches(family_words(*f), &word) {
                score[k] += if matches(STRONG_WORDS, &word) { 3 } else { 1 };
                first[k] = first[k].min(pos);
            }
        }
        sea |= matches(SEA_WORDS, &word);
    }
    let mut best: Option<usize> = None;
    for k in 0..FAMILIES.len() {
        if score[k] == 0 {
            continue;
        }
        best = match best {
            Some(b) if score[b] > score[k] || (score[b] == score[k] && first[b] <= first[k]) => {
                Some(b)
            }
            _ => Some(k),
        };
    }
    // No keyword: the prompt hash still picks a stable family for this prompt.
    let family = FAMILIES[best.unwrap_or((prompt_hash % FAMILIES.len() as u64) as usize)];
    Mood { family, sea }
}

/// A palette resolved to floats, blended from two hand-picked ones.
struct Palette {
    top: Rgb,
    mid: Rgb,
    horizon: Rgb,
    sun: Rgb,
    glow: Rgb,
    land: Rgb,
    mist: Rgb,
}

impl Palette {
    fn blend(a: &PaletteDef, b: &PaletteDef, t: f32) -> Self {
        let m = |x: u32, y: u32| lerp(rgb(x), rgb(y), t);
        Palette {
            top: m(a.top, b.top),
            mid: m(a.mid, b.mid),
            horizon: m(a.horizon, b.horizon),
            sun: m(a.sun, b.sun),
            glow: m(a.glow, b.glow),
            land: m(a.land, b.land),
            mist: m(a.mist, b.mist),
        }
    }
}

// ---------------------------------------------------------------------------
// Scene

/// One silhouette (mountain range or wave band).
struct Layer {
    color: Rgb,
    /// Colour right at the ridge line (foam on waves, same as `color` on rock).
    edge: Rgb,
    /// 1 / thickness (px) of the edge band.
    edge_inv: f32,
    /// How far the layer fades toward the haze at the bottom of its valleys.
    mist: f32,
    /// 1 / depth (px) over which the valley mist builds up.
    valley_inv: f32,
    /// How strongly slopes facing the light are lit.
    relief: f32,
    /// The layer stops here (px); islands must not cover the sea below them.
    floor: f32,
}

/// Per-column data of one layer.
#[derive(Clone, Copy)]
struct Column {
    /// Ridge height in pixels from the top.
    ridge: f32,
    /// 1 / sqrt(1 + slope^2): turns vertical distance into distance to the
    /// edge, for anti-aliasing steep flanks.
    norm: f32,
    /// -1 (facing away from the light) ..= 1 (facing it).
    shade: f32,
}

struct Scene {
    width: u32,
    height: u32,
    inv_s: f32,
    horizon: f32,
    pal: Palette,
    haze: Rgb,
    night: bool,
    sea: bool,
    sea_deep: Rgb,
    sun_x: f32,
    sun_y: f32,
    sun_r: f32,
    glow_strength: f32,
    glow_k: f32,
    band_strength: f32,
    layers: Vec<Layer>,
    /// Column-major: `columns[x * layers.len() + i]`.
    columns: Vec<Column>,
    /// Per column, the highest row any layer can touch; above it is pure sky.
    tops: Vec<f32>,
    grain: f32,
    cloudiness: f32,
    /// 1 / depth (px) below a ridge over which relief light fades.
    light_inv: f32,
    cloud_seed: u64,
    cloud_shear: f32,
    pixel_seed: u32,
}

impl Scene {
    fn new(prompt: &str, seed: u64, width: u32, height: u32) -> Self {
        let prompt_hash = fnv1a(prompt.as_bytes());
        let mood = read_mood(prompt, prompt_hash);
        // The prompt hash joins the seed so two prompts with the same mood
        // and seed still differ.
        let mut rng = Rng(mix64(seed ^ mix64(prompt_hash)));

        let (w, h) = (width as f32, height as f32);
        let s = w.min(h);

        let defs = palettes(mood.family);
        let a = &defs[(prompt_hash % 3) as usize];
        let b = &defs[rng.int(0, 2) as usize];
        let pal = Palette::blend(a, b, rng.range(0.0, 0.5));
        let night = mood.family == Family::Night;
        let haze = lerp(pal.horizon, pal.mist, 0.55);

        let horizon = (h * rng.range(0.5, 0.68)).round();
        let sun_x = w * rng.range(0.15, 0.85);
        let rise = if mood.family == Family::Warm {
            rng.range(0.04, 0.22)
        } else {
            rng.range(0.12, 0.34)
        };
        let sun_y = horizon - h * rise;
        let sun_r = s * if night {
            rng.range(0.035, 0.06)
        } else {
            rng.range(0.035, 0.065)
        };
        // Some skies are clear; the rest get streaks of stratus cloud.
        let cloudiness = (rng.range(-0.4, 1.0)).max(0.0);

        let mut scene = Scene {
            width,
            height,
            inv_s: 1.0 / s,
            horizon,
            haze,
            night,
            sea: mood.sea,
            sea_deep: lerp(pal.top, pal.land, 0.35),
            sun_x,
            sun_y,
            sun_r,
            glow_strength: if night { 0.35 } else { rng.range(0.55, 0.8) },
            glow_k: rng.range(25.0, 55.0),
            band_strength: if night { 0.15 } else { rng.range(0.2, 0.45) },
            layers: Vec::new(),
            columns: Vec::new(),
            tops: Vec::new(),
            grain: 2.2,
            cloudiness,
            light_inv: 1.0 / (s * 0.07),
            cloud_seed: rng.next_u64(),
            cloud_shear: rng.range(-0.8, 0.8),
            pixel_seed: (mix64(seed ^ prompt_hash.rotate_left(17)) >> 32) as u32,
            pal,
        };
        if mood.sea {
            scene.build_sea_layers(&mut rng, s);
        } else {
            scene.build_mountains(&mut rng, s);
        }
        scene
    }

    fn build_mountains(&mut self, rng: &mut Rng, s: f32) {
        let n = rng.int(3, 6);
        let h = self.height as f32;
        let mut specs = Vec::with_capacity(n as usize);
        for i in 0..n {
            let t = (i + 1) as f32 / n as f32;
            let k = t * (0.3 + 0.7 * t);
            let base = self.horizon + (h - self.horizon) * 0.8 * (i as f32 / n as f32);
            let amp = s * (0.2 - 0.08 * t) * rng.range(0.7, 1.3);
            let freq = (2.6 - 1.4 * t) * rng.range(0.8, 1.25);
            let layer = Layer {
                color: lerp(self.haze, self.pal.land, k),
                edge: lerp(self.haze, self.pal.land, k),
                edge_inv: 1.0,
                mist: 0.55 * (1.0 - t) + 0.15,
                valley_inv: 1.0 / (s * (0.08 + 0.1 * t)),
                relief: 0.3 - 0.15 * t,
                floor: f32::INFINITY,
            };
            let spec = RidgeSpec {
                base,
                amp,
                freq,
                offset: rng.range(0.0, 4096.0),
                seed: rng.next_u64(),
                octaves: if t < 0.5 { 6 } else { 5 },
                sharp: rng.range(0.2, 0.9) * (1.0 - 0.5 * t),
                crest: None,
            };
            specs.push((layer, spec));
        }
        self.finish_layers(specs);
    }

    fn build_sea_layers(&mut self, rng: &mut Rng, s: f32) {
        let h = self.height as f32;
        let mut specs = Vec::new();
        // Sometimes a low, hazy coastline sits on the horizon.
        if rng.unit() < 0.6 {
            let layer = Layer {
                color: lerp(self.haze, self.pal.land, 0.25),
                edge: lerp(self.haze, self.pal.land, 0.25),
                edge_inv: 1.0,
                mist: 0.35,
                valley_inv: 1.0 / (s * 0.04),
                relief: 0.08,
                floor: self.horizon,
            };
            let spec = RidgeSpec {
                base: self.horizon,
                amp: s * rng.range(0.03, 0.09),
                freq: rng.range(1.2, 2.5),
                offset: rng.range(0.0, 4096.0),
                seed: rng.next_u64(),
                octaves: 5,
                sharp: rng.range(0.0, 0.5),
                crest: None,
            };
            specs.push((layer, spec));
        }
        let n = rng.int(3, 5);
        let foam = lerp(self.pal.horizon, [255.0; 3], 0.55);
        for i in 0..n {
            let t = (i + 1) as f32 / n as f32;
            let base = self.horizon + (h - self.horizon) * (0.25 + 0.7 * t);
            let depth = (base - self.horizon) / (h - self.horizon).max(1.0);
            let water = lerp(
                lerp(self.haze, self.sea_deep, depth),
                self.pal.land,
                0.15 + 0.45 * t,
            );
            let layer = Layer {
                color: water,
                edge: lerp(water, foam, 0.35 + 0.4 * t),
                edge_inv: 1.0 / (s * (0.004 + 0.008 * t)),
                mist: 0.25 * (1.0 - t),
                valley_inv: 1.0 / (s * 0.1),
                relief: 0.0,
                floor: f32::INFINITY,
            };
            let spec = RidgeSpec {
                base,
                amp: s * (0.015 + 0.05 * t) * rng.range(0.8, 1.2),
                freq: (9.0 - 6.0 * t) * rng.range(0.85, 1.15),
                offset: rng.range(0.0, 4096.0),
                seed: rng.next_u64(),
                octaves: 3,
                sharp: 0.0,
                crest: Some(rng.range(0.0, 1.0)),
            };
            specs.push((layer, spec));
        }
        self.finish_layers(specs);
    }

    /// Samples every layer's ridge per column and precomputes what the pixel
    /// loop needs, so it does no noise evaluation and no allocation.
    fn finish_layers(&mut self, specs: Vec<(Layer, RidgeSpec)>) {
        let w = self.width as usize;
        let n = specs.len();
        let mut ridges = vec![0.0f32; w * n];
        let mut shades = vec![0.0f32; w * n];
        // Shading follows a smoothed ridge (two octaves): per-pixel slopes of
        // the detailed ridge would paint vertical streaks down the flanks.
        let mut coarse = vec![0.0f32; w];
        let mut sums = vec![0.0f32; w + 1];
        let reach = ((0.012 / self.inv_s) as usize).max(1);
        for (i, (layer, spec)) in specs.iter().enumerate() {
            for x in 0..w {
                let u = (x as f32 + 0.5) * self.inv_s;
                ridges[x * n + i] = spec.ridge_at(u);
                coarse[x] = spec.coarse_at(u);
            }
            if layer.relief == 0.0 {
                continue;
            }
            for x in 0..w {
                let (l, r) = (x.saturating_sub(reach), (x + reach).min(w - 1));
                let slope = (coarse[r] - coarse[l]) / (r - l).max(1) as f32;
                // Light comes from the sun's side; faces right below the sun
                // are lit head-on, so the contrast fades there.
                let dir = ((self.sun_x - (x as f32 + 0.5)) * self.inv_s * 3.0).clamp(-1.0, 1.0);
                sums[x + 1] = sums[x] + (slope * dir * 3.0).clamp(-1.0, 1.0);
            }
            // Box blur: a crest turns from light to shadow over a few pixels
            // instead of a hard vertical line.
            let blur = reach * 2;
            for x in 0..w {
                let (l, r) = (x.saturating_sub(blur), (x + blur + 1).min(w));
                shades[x * n + i] = (sums[r] - sums[l]) / (r - l) as f32;
            }
        }
        let mut columns = Vec::with_capacity(w * n);
        let mut tops = Vec::with_capacity(w);
        for x in 0..w {
            let mut top = f32::INFINITY;
            for i in 0..n {
                let at = |xx: usize| ridges[xx * n + i];
                let slope = (at((x + 1).min(w - 1)) - at(x.saturating_sub(1))) * 0.5;
                let norm = 1.0 / (1.0 + slope * slope).sqrt();
                let ridge = at(x);
                columns.push(Column {
                    ridge,
                    norm,
                    shade: shades[x * n + i],
                });
                top = top.min(ridge - 0.5 / norm);
            }
            tops.push(top);
        }
        self.layers = specs.into_iter().map(|(layer, _)| layer).collect();
        self.columns = columns;
        self.tops = tops;
    }

    fn paint(&self, img: &mut RgbImage) {
        let w = self.width as usize;
        let n = self.layers.len();
        let buf: &mut [u8] = img;
        for (y, row) in buf.chunks_exact_mut(w * 3).enumerate() {
            let y = y as u32;
            let ctx = self.row(y);
            let vy = (ctx.yc / self.height as f32 - 0.5) * 1.6;
            for (x, px) in row.chunks_exact_mut(3).enumerate() {
                let xc = x as f32 + 0.5;
                let mut c = if ctx.yc < self.tops[x] {
                    self.background(&ctx, x as u32, xc)
                } else {
                    self.composite(&ctx, x, xc, &self.columns[x * n..x * n + n])
                };
                // Soft vignette draws the eye inward.
                let vx = (xc / w as f32 - 0.5) * 1.6;
                c = scale(c, 1.0 - 0.18 * (vx * vx + vy * vy));
                // Triangular dither hides gradient banding and adds film grain.
                let g = hash32(x as u32, y, self.pixel_seed);
                let d = ((g & 0xff) + ((g >> 8) & 0xff)) as f32 * (1.0 / 255.0) - 1.0;
                let d = d * self.grain;
                // `as u8` saturates, so no clamp is needed.
                px[0] = (c[0] + d + 0.5) as u8;
                px[1] = (c[1] + d + 0.5) as u8;
                px[2] = (c[2] + d + 0.5) as u8;
            }
        }
    }

    fn row(&self, y: u32) -> Row {
        let yc = y as f32 + 0.5;
        let v = (yc / self.horizon).clamp(0.0, 1.0);
        let sky = if v < 0.55 {
            lerp(self.pal.top, self.pal.mid, smooth(v / 0.55))
        } else {
            lerp(self.pal.mid, self.pal.horizon, smooth((v - 0.55) / 0.45))
        };
        let dy = (yc - self.sun_y) * self.inv_s;
        let near = 1.0 - ((self.horizon - yc) * self.inv_s * 4.0).abs().min(1.0);
        let is_sea = self.sea && yc >= self.horizon;
        let depth =
            ((yc - self.horizon) / (self.height as f32 - self.horizon).max(1.0)).clamp(0.0, 1.0);
        // Glints come in thin horizontal bands, a few pixels tall.
        let band = (y / (self.height / 256).max(1)) as u64;
        let r =
            (mix64(band ^ u64::from(self.pixel_seed)) >> 40) as f32 * (1.0 / (1u64 << 24) as f32);
        // Cloud streaks live in a few horizontal bands of the sky.
        let clouds = if self.cloudiness > 0.0 && yc < self.horizon {
            let b = value_noise(yc * self.inv_s * 7.0, self.cloud_seed);
            smooth((b - 0.55) * 4.0) * self.cloudiness * smooth(v * 3.0)
        } else {
            0.0
        };
        Row {
            yc,
            sky,
            dy2: dy * dy,
            band: self.band_strength * near * near,
            star_fade: (1.0 - v * 1.2).max(0.0),
            is_sea,
            sea: lerp(
                lerp(self.pal.horizon, self.haze, 0.5),
                self.sea_deep,
                smooth(depth * 1.3),
            ),
            depth,
            glint: r * r,
            clouds,
        }
    }

    /// Sky (or open sea) behind all layers.
    fn background(&self, row: &Row, x: u32, xc: f32) -> Rgb {
        if row.is_sea {
            return self.sea_at(row, xc);
        }
        let dx = (xc - self.sun_x) * self.inv_s;
        let dx2 = dx * dx;
        let g = self.glow_strength / (1.0 + (dx2 + row.dy2) * self.glow_k)
            + row.band / (1.0 + dx2 * 6.0);
        let g = g.min(1.0);
        let mut c = lerp(row.sky, self.pal.glow, g);
        if row.clouds > 0.0 {
            let u = (xc + row.yc * self.cloud_shear) * self.inv_s * 2.5;
            let n = 0.65 * value_noise(u, self.cloud_seed ^ 0x00c1)
                + 0.35 * value_noise(u * 2.7, self.cloud_seed ^ 0x00c2);
            let density = row.clouds * smooth((n - 0.42) * 3.0);
            // Clouds catch the light near the sun and sit in shade away from it.
            let shade = if self.night {
                lerp(self.pal.top, self.pal.mist, 0.4)
            } else {
                lerp(lerp(self.pal.mid, self.pal.mist, 0.5), self.pal.glow, 0.3)
            };
            let lit = lerp(shade, self.pal.sun, (g * 1.6).min(1.0));
            c = lerp(c, lit, density * 0.55);
        }
        if self.night && row.star_fade > 0.0 {
            let h = hash32(x, row.yc as u32, self.pixel_seed ^ 0x5bd1_e995);
            if h & 0x3ff < 3 {
                let b = ((h >> 10) & 0xff) as f32 * (1.0 / 255.0);
                c = lerp(c, [255.0, 250.0, 240.0], (0.35 + 0.65 * b) * row.star_fade);
            }
        }
        self.disc(c, row, xc)
    }

    /// Sun, or a crescent moon at night, anti-aliased.
    fn disc(&self, c: Rgb, row: &Row, xc: f32) -> Rgb {
        let dx = xc - self.sun_x;
        let dy = row.yc - self.sun_y;
        let d2 = dx * dx + dy * dy;
        let r = self.sun_r;
        if d2 >= (r + 1.0) * (r + 1.0) {
            return c;
        }
        let cover = (r - d2.sqrt() + 0.5).clamp(0.0, 1.0);
        if !self.night {
            return lerp(c, self.pal.sun, cover);
        }
        // The shadow is a slightly offset disc; a hint of earthshine stays.
        let (sx, sy) = (dx - 0.38 * r, dy + 0.22 * r);
        let lit = ((sx * sx + sy * sy).sqrt() - 0.92 * r + 0.5).clamp(0.0, 1.0);
        lerp(c, self.pal.sun, cover * (0.1 + 0.9 * lit))
    }

    /// Open water: sky-tinted gradient, the light's reflection and a broken
    /// glitter path below it.
    fn sea_at(&self, row: &Row, xc: f32) -> Rgb {
        let dx = (xc - self.sun_x) * self.inv_s;
        let fade = 1.0 - row.depth;
        let mut c = lerp(row.sea, self.pal.glow, 0.35 * fade / (1.0 + dx * dx * 30.0));
        let half = self.sun_r * self.inv_s * (0.6 + 2.5 * row.depth);
        let adx = dx.abs();
        if adx < half {
            let k = (1.0 - adx / half) * row.glint * 0.85;
            c = lerp(c, self.pal.sun, k);
        }
        c
    }

    fn composite(&self, row: &Row, x: usize, xc: f32, cols: &[Column]) -> Rgb {
        // Front-to-back: the nearest layer covering the pixel wins, with
        // partial coverage at the ridge blending into what lies behind.
        let mut acc = [0.0f32; 3];
        let mut rem = 1.0f32;
        for (layer, col) in self.layers.iter().zip(cols).rev() {
            if row.yc >= layer.floor {
                continue;
            }
            let d = row.yc - col.ridge;
            let cover = (d * col.norm + 0.5).clamp(0.0, 1.0);
            if cover <= 0.0 {
                continue;
            }
            let d = d.max(0.0);
            let mut c = lerp(layer.edge, layer.color, (d * layer.edge_inv).min(1.0));
            // Relief light only grazes the upper flanks; lower down the mist
            // takes over.
            let lit = col.shade * layer.relief * (1.0 - d * self.light_inv).max(0.0);
            c = if lit > 0.0 {
                lerp(c, self.pal.glow, lit)
            } else {
                scale(c, 1.0 + lit)
            };
            c = lerp(c, self.haze, (d * layer.valley_inv).min(1.0) * layer.mist);
            let k = rem * cover;
            acc = [acc[0] + c[0] * k, acc[1] + c[1] * k, acc[2] + c[2] * k];
            rem -= k;
            if rem <= 0.001 {
                return acc;
            }
        }
        let b = self.background(row, x as u32, xc);
        [
            acc[0] + b[0] * rem,
            acc[1] + b[1] * rem,
            acc[2] + b[2] * rem,
        ]
    }
}

/// Per-row values shared by every pixel in the row.
struct Row {
    yc: f32,
    sky: Rgb,
    dy2: f32,
    band: f32,
    star_fade: f32,
    is_sea: bool,
    sea: Rgb,
    depth: f32,
    glint: f32,
    clouds: f32,
}

/// Shape of one silhouette before it is sampled per column.
struct RidgeSpec {
    base: f32,
    amp: f32,
    freq: f32,
    offset: f32,
    seed: u64,
    octaves: u32,
    sharp: f32,
    /// Wave phase: sharp crests with broad troughs instead of rock.
    crest: Option<f32>,
}

impl RidgeSpec {
    /// Ridge row (px) at horizontal position `u` (in units of the short side).
    fn ridge_at(&self, u: f32) -> f32 {
        let p = u * self.freq + self.offset;
        let shape = match self.crest {
            None => stretch(ridge_noise(p, self.seed, self.octaves, self.sharp)),
            Some(phase) => {
                // Warp the phase with noise so crests are irregular.
                let q = p + phase + 0.6 * value_noise(p * 0.37, self.seed ^ 0xa5a5);
                let f = q - q.floor();
                let tri = 1.0 - (2.0 * f - 1.0).abs();
                let swell = value_noise(p * 0.21, self.seed ^ 0x5a5a);
                0.7 * tri * tri * (0.45 + 0.55 * swell)
                    + 0.3 * ridge_noise(p * 1.7, self.seed, self.octaves, 0.0)
            }
        };
        self.base - self.amp * shape
    }

    /// The ridge's broad shape: the first two octaves of [`Self::ridge_at`].
    fn coarse_at(&self, u: f32) -> f32 {
        let p = u * self.freq + self.offset;
        self.base - self.amp * stretch(ridge_noise(p, self.seed, 2, self.sharp))
    }
}

/// Fractal noise clusters around 0.5; spread it so ridges use the full height.
fn stretch(v: f32) -> f32 {
    (v - 0.5) * 2.0 + 0.5
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn deterministic() {
        let a = render_png("a red sunset over the mountains", 42, 160, 96).unwrap();
        let b = render_png("a red sunset over the mountains", 42, 160, 96).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn size_matches() {
        for (w, h) in [(64, 64), (200, 50), (33, 120), (1, 1)] {
            let img = render("ocean", 1, w, h);
            assert_eq!(img.dimensions(), (w, h));
        }
        assert_eq!(render("x", 1, 0, 10).dimensions(), (0, 10));
        let png = render_png("ocean", 1, 40, 30).unwrap();
        let decoded = image::load_from_memory(&png).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (40, 30));
    }

    fn differing_pixels(a: &RgbImage, b: &RgbImage) -> usize {
        a.pixels()
            .zip(b.pixels())
            .filter(|(p, q)| p.0.iter().zip(q.0.iter()).any(|(x, y)| x.abs_diff(*y) > 12))
            .count()
    }

    #[test]
    fn seeds_differ_visibly() {
        let a = render("misty forest valley", 1, 128, 128);
        let b = render("misty forest valley", 2, 128, 128);
        assert!(differing_pixels(&a, &b) > 128 * 128 / 5);
    }

    #[test]
    fn prompts_differ_visibly() {
        let a = render("a warm desert sunset", 7, 128, 128);
        let b = render("a frozen lake at night", 7, 128, 128);
        assert!(differing_pixels(&a, &b) > 128 * 128 / 5);
        // Same mood, different words: still a different picture.
        let c = render("sunset", 7, 128, 128);
        let d = render("sunset!!", 7, 128, 128);
        assert!(differing_pixels(&c, &d) > 128 * 128 / 10);
    }

    #[test]
    fn not_degenerate() {
        for (i, prompt) in [
            "sunset",
            "ocean waves",
            "night sky",
            "forest",
            "pink dream",
            "",
            "猫",
        ]
        .iter()
        .enumerate()
        {
            let img = render(prompt, i as u64, 256, 160);
            let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
            assert!(
                colours.len() > 2000,
                "{prompt}: only {} colours",
                colours.len()
            );
            // Both light and dark regions: a picture, not a flat wash.
            let lum: Vec<u32> = img
                .pixels()
                .map(|p| p.0.iter().map(|&c| u32::from(c)).sum())
                .collect();
            let (lo, hi) = (lum.iter().min().unwrap(), lum.iter().max().unwrap());
            assert!(hi - lo > 150, "{prompt}: contrast {lo}..{hi}");
        }
    }

    #[test]
    fn moods_from_words() {
        assert_eq!(read_mood("Golden SUNSET", 0).family, Family::Warm);
        assert_eq!(read_mood("icy glaciers", 0).family, Family::Cool);
        assert_eq!(read_mood("the moon at midnight", 0).family, Family::Night);
        assert_eq!(read_mood("pine trees", 0).family, Family::Forest);
        assert!(read_mood("waves on the ocean", 0).sea);
        assert!(!read_mood("mountains", 0).sea);
        // Ties go to the word seen first.
        assert_eq!(read_mood("forest fire", 0).family, Family::Forest);
    }
}
