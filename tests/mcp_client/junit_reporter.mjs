// A node:test reporter writing JUnit XML, one <testcase> per test (suites
// become the classname), so tests/summarize_results.py counts every case.
// Used instead of node's built-in `junit` reporter, which needs Node >= 20.11
// (Debian 12 ships Node 18) and double-escapes quotes in names.
//   node --test --test-reporter=./junit_reporter.mjs --test-reporter-destination=out.xml
import { basename } from 'node:path';
import { inspect } from 'node:util';

function escape(text) {
  return String(text)
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // XML 1.0 cannot carry most control characters, even escaped.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '?');
}

function describeError(error) {
  if (!error) return 'failed';
  const cause = error.cause ?? error;
  return inspect(cause, { depth: 4, breakLength: 100 });
}

export default async function* junitReporter(source) {
  // Children are reported before their parent; a test that had children is
  // a suite. pending[n] collects the finished items at nesting level n.
  const pending = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    const level = data.nesting ?? 0;
    const children = pending[level + 1] ?? [];
    pending[level + 1] = [];
    const item = {
      name: data.file && level === 0 && data.name === data.file ? basename(data.name) : data.name,
      file: data.file ? basename(data.file) : undefined,
      seconds: (data.details?.duration_ms ?? 0) / 1000,
      failed: event.type === 'test:fail',
      skipped: Boolean(data.skip || data.todo),
      error: event.type === 'test:fail' ? describeError(data.details?.error) : undefined,
      children,
    };
    (pending[level] ??= []).push(item);
  }
  const cases = [];
  const walk = (items, path) => {
    for (const item of items) {
      if (item.children.length > 0) {
        walk(item.children, [...path, item.name]);
        // A suite that failed by itself (a hook) with no failed case.
        if (item.failed && !item.children.some((c) => c.failed)) {
          cases.push({ ...item, name: `${item.name} (suite hooks)`,
            classname: [item.file, ...path].filter(Boolean).join(' > ') });
        }
      } else {
        cases.push({ ...item, classname: [item.file, ...path].filter(Boolean).join(' > ') });
      }
    }
  };
  walk(pending[0] ?? [], []);
  const failures = cases.filter((c) => c.failed).length;
  const skipped = cases.filter((c) => c.skipped && !c.failed).length;
  const total = cases.reduce((sum, c) => sum + c.seconds, 0);
  let xml = '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n';
  xml += `  <testsuite name="mcp_sdk_test" tests="${cases.length}" failures="${failures}" ` +
    `errors="0" skipped="${skipped}" time="${total.toFixed(3)}">\n`;
  for (const c of cases) {
    xml += `    <testcase classname="${escape(c.classname)}" name="${escape(c.name)}" ` +
      `time="${c.seconds.toFixed(3)}"`;
    if (c.failed) {
      const message = c.error.split('\n')[0].slice(0, 200);
      xml += `>\n      <failure message="${escape(message)}">${escape(c.error)}</failure>\n    </testcase>\n`;
    } else if (c.skipped) {
      xml += '>\n      <skipped/>\n    </testcase>\n';
    } else {
      xml += '/>\n';
    }
  }
  xml += '  </testsuite>\n</testsuites>\n';
  yield xml;
}
