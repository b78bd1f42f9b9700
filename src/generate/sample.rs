//! Random draws shared by the writers. Every draw comes from an explicitly seeded ChaCha stream,
//! so a run is a pure function of its options. Holds no state of its own.

use chrono::{Days, NaiveDate};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One independent random stream per concern, so that changing how one source is sampled never
/// shifts the bytes of another.
#[derive(Clone, Copy, Debug)]
pub(super) enum Stream {
    World = 1,
    Handoffs = 2,
    Tickets = 3,
    Events = 4,
    Pageviews = 5,
    Nps = 6,
    FxRates = 7,
}

pub(super) fn stream_rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

pub(super) fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    items
        .choose(rng)
        .expect("generator vocabularies are never empty")
}

/// One of `options`, each drawn with probability proportional to its weight.
pub(super) fn pick_weighted<T: Copy>(rng: &mut impl Rng, options: &[(T, f64)]) -> T {
    let total: f64 = options.iter().map(|(_, weight)| weight).sum();
    let mut remaining = rng.random::<f64>() * total;
    for (option, weight) in options {
        if remaining < *weight {
            return *option;
        }
        remaining -= weight;
    }
    options.last().expect("weighted choices are never empty").0
}

/// A Poisson-distributed count (Knuth's method: the means drawn here are small).
pub(super) fn poisson(rng: &mut impl Rng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    let limit = (-mean).exp();
    let mut product = rng.random::<f64>();
    let mut count = 0;
    while product > limit {
        count += 1;
        product *= rng.random::<f64>();
    }
    count
}

/// A number of days in `0..=max`, skewed toward 0: most people show up early, a few late.
pub(super) fn early_days(rng: &mut impl Rng, max: u32) -> u64 {
    let u = rng.random::<f64>();
    (u * u * f64::from(max + 1)).floor().min(f64::from(max)) as u64
}

/// A day in `first..=last`; `first` when the range is empty (a short history squeezes it).
pub(super) fn day_between(rng: &mut impl Rng, first: NaiveDate, last: NaiveDate) -> NaiveDate {
    let span = (last - first).num_days();
    if span <= 0 {
        return first;
    }
    first + Days::new(rng.random_range(0..=span) as u64)
}
