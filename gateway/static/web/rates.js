// Decisions per second, from two successive operator overviews: the change of
// accepted + rejected over the time between the two readings (the server's `at`, so that a
// slow answer does not distort the rate).

/** {at: ms, decided: Map(sale_id -> accepted + rejected)} of an overview. */
export function reading(overview) {
  return {
    at: Date.parse(overview.at),
    decided: new Map(overview.sales.map((sale) => [sale.sale_id, sale.accepted + sale.rejected])),
  };
}

/**
 * {total, perSale: Map(sale_id -> rate)} between two readings; null without a usable pair
 * (the first reading, or no time between them). A sale new in `next` counts from zero.
 */
export function decisionRates(previous, next) {
  if (!previous || !(next.at > previous.at)) return null;
  const seconds = (next.at - previous.at) / 1000;
  const perSale = new Map();
  let total = 0;
  for (const [id, decided] of next.decided) {
    // Never negative: counters only grow, unless a sale was re-created from scratch.
    const rate = Math.max(0, decided - (previous.decided.get(id) ?? 0)) / seconds;
    perSale.set(id, rate);
    total += rate;
  }
  return { total, perSale };
}
