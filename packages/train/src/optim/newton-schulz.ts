// Newton–Schulz orthogonalization (Muon's "zeroth power"): the quintic iteration with PyTorch's
// coefficients, X <- a X + (b A + c A^2) X with A = X X^T, on the wide orientation of the matrix.
import { Tensor, matmul, mul, add, transpose, sum, square, sqrt, tidy, contiguous } from '@stellar/tensor';

export const NS_COEFFICIENTS: [number, number, number] = [3.4445, -4.775, 2.0315];

/** G (m, n) -> an approximately orthogonal matrix with G's singular vectors (singular values ~ 0.5..1.5). */
export function newtonSchulz(g: Tensor, steps = 5, coeffs = NS_COEFFICIENTS, eps = 1e-7): Tensor {
  if (g.ndim !== 2) throw new Error(`newtonSchulz: expected a 2-D matrix, got [${g.shape.join(', ')}]`);
  const [a, b, c] = coeffs;
  return tidy(() => {
    const tall = g.shape[0] > g.shape[1];
    let x = tall ? contiguous(transpose(g)) : g;                 // (r, k) with r <= k
    const norm = Math.max(sqrt(sum(square(x))).item(), eps);     // Frobenius norm bounds the spectral norm
    x = mul(x, 1 / norm);
    for (let i = 0; i < steps; i++) {
      const A = matmul(x, transpose(x));                         // (r, r)
      const B = add(mul(A, b), mul(matmul(A, A), c));            // (r, r)
      x = add(mul(x, a), matmul(B, x));                          // (r, k)
    }
    return tall ? contiguous(transpose(x)) : x;
  });
}
