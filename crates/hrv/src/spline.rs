//! Not-a-knot cubic spline, the way `scipy.interpolate.CubicSpline` builds it by default.
//!
//! The tachogram is a list of irregularly spaced beats; both the coherence window and the
//! Welch spectrum need it on a regular 4 Hz grid. The spline owns its coefficient buffers so a
//! window can be resampled without allocating once the buffers have grown to the largest
//! window seen.
//!
//! Edge cases follow scipy: two knots give the straight line through them, three knots the
//! parabola through them (both ends not-a-knot leaves a single polynomial), and four or more
//! the tridiagonal system for the first derivatives with not-a-knot rows at both ends.

/// A fitted spline: per interval `i`, `p(x) = c3·u³ + c2·u² + c1·u + c0` with `u = x − x_i`.
#[derive(Debug, Default, Clone)]
pub(crate) struct CubicSpline {
    knots_x: Vec<f64>,
    coefficients: Vec<[f64; 4]>,
    // Scratch for the derivative system.
    slopes: Vec<f64>,
    derivatives: Vec<f64>,
    lower: Vec<f64>,
    diagonal: Vec<f64>,
    upper: Vec<f64>,
    rhs: Vec<f64>,
}

impl CubicSpline {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A spline whose buffers already hold `knots` knots, so fitting that many allocates
    /// nothing.
    pub(crate) fn with_capacity(knots: usize) -> Self {
        Self {
            knots_x: Vec::with_capacity(knots),
            coefficients: Vec::with_capacity(knots),
            slopes: Vec::with_capacity(knots),
            derivatives: Vec::with_capacity(knots),
            lower: Vec::with_capacity(knots),
            diagonal: Vec::with_capacity(knots),
            upper: Vec::with_capacity(knots),
            rhs: Vec::with_capacity(knots),
        }
    }

    /// Fit through `(x[i], y[i])`. `x` must be strictly increasing and finite; returns false
    /// (and leaves the spline empty) with fewer than two knots or unusable knots.
    pub(crate) fn fit(&mut self, x: &[f64], y: &[f64]) -> bool {
        self.knots_x.clear();
        self.coefficients.clear();
        let n = x.len();
        if n < 2 || y.len() != n {
            return false;
        }
        if x.windows(2)
            .any(|w| w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater))
            || x.iter().chain(y).any(|v| !v.is_finite())
        {
            return false;
        }
        self.knots_x.extend_from_slice(x);

        self.slopes.clear();
        self.slopes
            .extend((0..n - 1).map(|i| (y[i + 1] - y[i]) / (x[i + 1] - x[i])));
        self.derivatives.clear();
        self.derivatives.resize(n, 0.0);

        if n == 2 {
            // scipy: both not-a-knot ends with two points give the line through them.
            self.derivatives[0] = self.slopes[0];
            self.derivatives[1] = self.slopes[0];
        } else if n == 3 {
            // The single parabola through three points: its derivative at each knot.
            let (h0, h1) = (x[1] - x[0], x[2] - x[1]);
            let second = (self.slopes[1] - self.slopes[0]) / (h0 + h1); // p''/2
            self.derivatives[0] = self.slopes[0] - second * h0;
            self.derivatives[1] = self.slopes[0] + second * h0;
            self.derivatives[2] = self.slopes[1] + second * h1;
        } else {
            self.solve_not_a_knot(x);
        }

        for i in 0..n - 1 {
            let h = x[i + 1] - x[i];
            let (s0, s1, slope) = (self.derivatives[i], self.derivatives[i + 1], self.slopes[i]);
            let t = (s0 + s1 - 2.0 * slope) / h;
            self.coefficients
                .push([y[i], s0, (slope - s0) / h - t, t / h]);
        }
        true
    }

    /// The tridiagonal system for the first derivatives (scipy's formulation), solved with the
    /// Thomas algorithm. The first pivot is `h1 > 0` and elimination keeps the rest positive.
    fn solve_not_a_knot(&mut self, x: &[f64]) {
        let n = x.len();
        let h = |i: usize| x[i + 1] - x[i];
        let slope = &self.slopes;
        self.lower.clear();
        self.diagonal.clear();
        self.upper.clear();
        self.rhs.clear();

        let d = x[2] - x[0];
        self.lower.push(0.0);
        self.diagonal.push(h(1));
        self.upper.push(d);
        self.rhs
            .push(((h(0) + 2.0 * d) * h(1) * slope[0] + h(0) * h(0) * slope[1]) / d);
        for i in 1..n - 1 {
            self.lower.push(h(i));
            self.diagonal.push(2.0 * (h(i - 1) + h(i)));
            self.upper.push(h(i - 1));
            self.rhs
                .push(3.0 * (h(i) * slope[i - 1] + h(i - 1) * slope[i]));
        }
        let d = x[n - 1] - x[n - 3];
        let (h_last, h_before) = (h(n - 2), h(n - 3));
        self.lower.push(d);
        self.diagonal.push(h_before);
        self.upper.push(0.0);
        self.rhs.push(
            (h_last * h_last * slope[n - 3] + (2.0 * d + h_last) * h_before * slope[n - 2]) / d,
        );

        // Forward elimination.
        for i in 1..n {
            let factor = self.lower[i] / self.diagonal[i - 1];
            self.diagonal[i] -= factor * self.upper[i - 1];
            self.rhs[i] -= factor * self.rhs[i - 1];
        }
        // Back substitution.
        self.derivatives[n - 1] = self.rhs[n - 1] / self.diagonal[n - 1];
        for i in (0..n - 1).rev() {
            self.derivatives[i] =
                (self.rhs[i] - self.upper[i] * self.derivatives[i + 1]) / self.diagonal[i];
        }
    }

    /// Evaluate at increasing points `start + k·step`, `k = 0 … out.len()−1`, walking the
    /// intervals once. Points outside the knots extrapolate with the end polynomials (scipy's
    /// default).
    pub(crate) fn evaluate_grid(&self, start: f64, step: f64, out: &mut [f64]) {
        if self.coefficients.is_empty() {
            out.fill(f64::NAN);
            return;
        }
        let last = self.coefficients.len() - 1;
        let mut interval = 0;
        for (k, value) in out.iter_mut().enumerate() {
            let x = start + step * k as f64;
            while interval < last && x >= self.knots_x[interval + 1] {
                interval += 1;
            }
            *value = self.evaluate_in(interval, x);
        }
    }

    /// Evaluate at one point (binary search for the interval).
    #[cfg(test)]
    pub(crate) fn evaluate(&self, x: f64) -> f64 {
        let last = self.coefficients.len() - 1;
        let interval = self.knots_x[1..=last]
            .partition_point(|&knot| knot <= x)
            .min(last);
        self.evaluate_in(interval, x)
    }

    fn evaluate_in(&self, interval: usize, x: f64) -> f64 {
        let [c0, c1, c2, c3] = self.coefficients[interval];
        let u = x - self.knots_x[interval];
        ((c3 * u + c2) * u + c1) * u + c0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fitted(x: &[f64], y: &[f64]) -> CubicSpline {
        let mut spline = CubicSpline::new();
        assert!(spline.fit(x, y));
        spline
    }

    #[test]
    fn two_knots_give_the_line() {
        let spline = fitted(&[0.0, 2.0], &[1.0, 5.0]);
        assert!((spline.evaluate(1.0) - 3.0).abs() < 1e-12);
        assert!((spline.evaluate(3.0) - 7.0).abs() < 1e-12);
    }

    #[test]
    fn three_knots_give_the_parabola() {
        // y = x² through 0, 1, 3.
        let spline = fitted(&[0.0, 1.0, 3.0], &[0.0, 1.0, 9.0]);
        for x in [0.5, 2.0, 2.5, -1.0, 4.0] {
            assert!((spline.evaluate(x) - x * x).abs() < 1e-12, "x = {x}");
        }
    }

    #[test]
    fn a_cubic_is_reproduced_exactly() {
        // Not-a-knot splines reproduce any cubic polynomial, on uneven knots too.
        let f = |x: f64| 2.0 * x * x * x - x * x + 0.5 * x - 3.0;
        let x = [0.0, 0.7, 1.1, 2.0, 2.4, 3.9];
        let y = x.map(f);
        let spline = fitted(&x, &y);
        for k in 0..40 {
            let at = k as f64 * 0.1;
            assert!((spline.evaluate(at) - f(at)).abs() < 1e-9, "x = {at}");
        }
    }

    #[test]
    fn not_a_knot_ends_on_a_symmetric_case() {
        // Through (0,0), (1,1), (2,0), (3,1), (4,0), not-a-knot makes [0, 2] one cubic and
        // symmetry about x = 2 gives p'(2) = 0, so p = (x−2)³ + 2(x−2)² on [0, 2]:
        // p(0.5) = 1.125, p(1.5) = 0.375 (scipy's CubicSpline gives the same).
        let spline = fitted(&[0.0, 1.0, 2.0, 3.0, 4.0], &[0.0, 1.0, 0.0, 1.0, 0.0]);
        let expected = [(0.5, 1.125), (1.5, 0.375), (2.5, 0.375), (3.5, 1.125)];
        for (x, y) in expected {
            assert!(
                (spline.evaluate(x) - y).abs() < 1e-12,
                "x = {x}: {}",
                spline.evaluate(x)
            );
        }
    }

    #[test]
    fn grid_evaluation_equals_pointwise_evaluation() {
        let x = [0.0, 0.8, 1.9, 2.7, 3.5, 4.6, 5.0];
        let y = [800.0, 850.0, 790.0, 900.0, 760.0, 810.0, 805.0];
        let spline = fitted(&x, &y);
        let mut grid = [0.0; 21];
        spline.evaluate_grid(0.0, 0.25, &mut grid);
        for (k, value) in grid.iter().enumerate() {
            assert!((value - spline.evaluate(k as f64 * 0.25)).abs() < 1e-9);
        }
    }

    #[test]
    fn unusable_knots_are_refused() {
        let mut spline = CubicSpline::new();
        assert!(!spline.fit(&[1.0], &[1.0]));
        assert!(!spline.fit(&[0.0, 0.0, 1.0], &[1.0, 2.0, 3.0]));
        assert!(!spline.fit(&[0.0, f64::NAN], &[1.0, 2.0]));
    }
}
