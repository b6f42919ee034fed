/**
 * Word boundaries that know Swedish letters. JavaScript's \b counts only [A-Za-z0-9_] as word
 * characters, so /\båterbetal/ never matches after a space; these look-arounds use Unicode
 * letter and number classes instead (with the `u` flag). Regular-expression source, for
 * `new RegExp(...)`.
 */
export const WORD_START = '(?<![\\p{L}\\p{N}])';
export const WORD_END = '(?![\\p{L}\\p{N}])';
