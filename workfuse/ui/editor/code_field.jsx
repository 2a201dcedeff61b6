// A code box with syntax highlighting (Prism) for a node's JavaScript or JSONata.
//
// Typing stays in the browser; the text goes to the backend 300 ms after the last
// keystroke and on blur, so a fast typist does not send one event per key. When the
// `value` prop changes from outside (another node selected, a version restored), the
// box shows it.
import React, { useEffect, useRef, useState } from "react";
import SimpleEditor from "react-simple-code-editor";
import Prism from "prismjs";
import "prismjs/components/prism-clike";
import "prismjs/components/prism-javascript";
import "prismjs/components/prism-json";

const SEND_AFTER_MS = 300;
// The package is CommonJS: depending on the bundler's interop its default export
// arrives as the component or as the module object holding it.
const Editor = SimpleEditor.default || SimpleEditor;

// JSONata reads like JavaScript expressions (paths, strings, numbers, operators,
// function calls), so the JavaScript grammar highlights it well enough.
const GRAMMARS = { javascript: "javascript", jsonata: "javascript", json: "json" };

const THEME = `
.workfuse-code .token.comment { color: #64748b; font-style: italic; }
.workfuse-code .token.string { color: #15803d; }
.workfuse-code .token.number, .workfuse-code .token.boolean { color: #b45309; }
.workfuse-code .token.keyword { color: #7c3aed; }
.workfuse-code .token.function { color: #2563eb; }
.workfuse-code .token.operator, .workfuse-code .token.punctuation { color: #475569; }
.workfuse-code .token.property { color: #be123c; }
.workfuse-code textarea { outline: none; }
`;

export function CodeField({ value, language, onChange, name, minHeight }) {
  const [text, setText] = useState(value || "");
  const sent = useRef(value || "");
  const timer = useRef(null);

  useEffect(() => {
    if ((value || "") !== sent.current) {
      sent.current = value || "";
      setText(value || "");
    }
  }, [value]);
  useEffect(() => () => clearTimeout(timer.current), []);

  const send = (next) => {
    clearTimeout(timer.current);
    if (next !== sent.current && onChange) {
      sent.current = next;
      onChange(next);
    }
  };
  const onValueChange = (next) => {
    setText(next);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => send(next), SEND_AFTER_MS);
  };
  const grammar = Prism.languages[GRAMMARS[language] || "javascript"];

  return (
    <div
      className="workfuse-code"
      style={{
        border: "1px solid var(--gray-7)",
        borderRadius: "var(--radius-2)",
        background: "var(--color-surface)",
        minHeight: minHeight || 120,
        maxHeight: 420,
        overflow: "auto",
        width: "100%",
      }}
    >
      <style>{THEME}</style>
      <Editor
        value={text}
        onValueChange={onValueChange}
        onBlur={() => send(text)}
        highlight={(code) => Prism.highlight(code, grammar, language || "javascript")}
        padding={10}
        name={name}
        textareaId={name ? `code-${name}` : undefined}
        spellCheck={false}
        style={{
          fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
          fontSize: 12,
          lineHeight: 1.5,
          minHeight: minHeight || 120,
        }}
      />
    </div>
  );
}
