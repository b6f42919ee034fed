/**
 * Levenshtein distance (insertions, deletions, substitutions, each costing 1), for "did you
 * mean" hints: a config key or value, a template placeholder, an officer's #command.
 * One row of the table at a time: O(|a|·|b|) time, O(|b|) memory.
 */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}
