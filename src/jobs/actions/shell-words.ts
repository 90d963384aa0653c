/**
 * Splitting a step's `command` into argv. Commands are NOT run through a shell: this parser only understands
 * word splitting on blanks, single quotes (literal), double quotes (where `\"`, `\\`, `\$` and `` \` `` are
 * escapes) and backslash escapes outside quotes. Nothing is expanded (`$HOME`, `*`, `~` stay as written), and a
 * bare shell operator (`|`, `&&`, `;`, `>` …) is refused with a message pointing at inline contents, which run as
 * a script. Pure, so it is table-tested.
 */

/** A bare word that only means something to a shell. */
const SHELL_OPERATOR = /^(?:\|\|?|&&?|;;?|[0-9]*(?:<<?|>>?|<>|>\|)(?:&[0-9]+|&-)?|\(|\))$/;

/** Splits `command` into words (see the module comment); throws an Error saying what is wrong. */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quoted = false;
  let i = 0;
  const finish = () => {
    if (!inWord) return;
    if (!quoted && SHELL_OPERATOR.test(word)) {
      throw new Error(
        `the command contains the shell operator "${word}", but commands are not run through a shell; ` +
          "use inline contents (a script) for pipes, redirections and command lists, or quote it",
      );
    }
    words.push(word);
    word = "";
    inWord = false;
    quoted = false;
  };
  while (i < command.length) {
    const ch = command[i]!;
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") {
      finish();
      i++;
    } else if (ch === "'") {
      const end = command.indexOf("'", i + 1);
      if (end === -1) throw new Error("the command has an unterminated ' quote");
      word += command.slice(i + 1, end);
      inWord = true;
      quoted = true;
      i = end + 1;
    } else if (ch === '"') {
      i++;
      inWord = true;
      quoted = true;
      for (;;) {
        if (i >= command.length) throw new Error('the command has an unterminated " quote');
        const c = command[i]!;
        if (c === '"') {
          i++;
          break;
        }
        if (c === "\\" && i + 1 < command.length) {
          const next = command[i + 1]!;
          if (next === "\n") {
            i += 2;
            continue;
          }
          if (next === '"' || next === "\\" || next === "$" || next === "`") {
            word += next;
            i += 2;
            continue;
          }
        }
        word += c;
        i++;
      }
    } else if (ch === "\\") {
      if (i + 1 >= command.length) throw new Error("the command ends with a lone backslash");
      const next = command[i + 1]!;
      i += 2;
      if (next === "\n") continue; // line continuation
      word += next;
      inWord = true;
      quoted = true;
    } else {
      word += ch;
      inWord = true;
      i++;
    }
  }
  finish();
  if (words.length === 0) throw new Error("the command is empty");
  return words;
}
