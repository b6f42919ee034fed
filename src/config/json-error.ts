/**
 * Where a config file stops being JSON: the line and column (1-based) of the first character
 * JSON.parse would refuse, and what is wrong there in an operator's words. Node's own message
 * ("Unexpected token '}', ... is not valid JSON") names neither a line nor a column, and an
 * admin editing /etc/klagomal/config.json needs both (STYLE principle 14: say where and how).
 *
 * A small scanner of the grammar of RFC 8259; it only locates the error, JSON.parse still
 * reads the value. Null when the text is valid JSON.
 */
export interface JsonErrorAt {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

class Stop extends Error {
  constructor(
    readonly at: number,
    readonly why: string,
  ) {
    super(why);
  }
}

export function jsonErrorAt(text: string): JsonErrorAt | null {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const shown = (): string => (i >= text.length ? 'the end of the file' : `'${text[i]}'`);
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === undefined) throw new Stop(i, 'a value expected, found the end of the file');
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    if (c === "'") throw new Stop(i, 'a string in single quotes (JSON needs double quotes)');
    throw new Stop(i, `a value expected, found ${shown()}`);
  };
  const object = (): void => {
    i++; // {
    ws();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] === '}') throw new Stop(i, "a trailing comma before '}' (JSON allows none)");
      if (text[i] !== '"') throw new Stop(i, `a key in double quotes expected, found ${shown()}`);
      string();
      ws();
      if (text[i] !== ':') throw new Stop(i, `expected ':' after the key, found ${shown()}`);
      i++;
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return;
      }
      throw new Stop(i, `expected ',' or '}' after a value, found ${shown()} (a comma missing at the end of the line before?)`);
    }
  };
  const array = (): void => {
    i++; // [
    ws();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] === ']') throw new Stop(i, "a trailing comma before ']' (JSON allows none)");
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return;
      }
      throw new Stop(i, `expected ',' or ']' after a value, found ${shown()}`);
    }
  };
  const string = (): void => {
    i++; // "
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Stop(i, 'a string not closed before the end of the file');
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\n' || c === '\r') throw new Stop(i, 'a line break inside a string (write \\n, or close the string)');
      if (c < ' ') throw new Stop(i, 'a control character inside a string');
      if (c === '\\') {
        const e = text[i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else throw new Stop(i, 'an unknown escape in a string (a Windows path needs \\\\ for each \\)');
        continue;
      }
      i++;
    }
  };
  const number = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m || m[0] === '-') throw new Stop(i, `a number expected, found ${shown()}`);
    i += m[0].length;
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) throw new Stop(0, 'a byte order mark before the JSON (save the file as UTF-8 without BOM)');
    value();
    ws();
    if (i < text.length) throw new Stop(i, `text after the end of the JSON value (${shown()}; JSON has no comments)`);
    return null;
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
    return { ...position(text, err.at), message: err.why };
  }
}

function position(text: string, at: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let k = 0; k < at && k < text.length; k++) {
    if (text[k] === '\n') {
      line++;
      start = k + 1;
    }
  }
  return { line, column: at - start + 1 };
}
