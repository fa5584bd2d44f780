import { labelSelectorProblem } from '../../../src/core/kube-names.js';

test.each(['app=web', 'app==web', 'app!=web', 'app', '!app', 'app=web,tier=frontend', 'example.com/team=pay', 'app=', 'a.b-c_d=e.f-g_h'])('accepts %j', (selector) => {
  expect(labelSelectorProblem(selector)).toBeUndefined();
});

test.each([
  ['', /^The label selector is empty\./],
  ['app in (a,b)', /^`app in \(a` isn't a label requirement kdebug takes\./],
  ['!app=web', /^`!app=web` isn't a label requirement kdebug takes\./],
  ['app=web;rm -rf /', /isn't a label requirement kdebug takes/],
  ['app=web;rm', /^`web;rm` isn't a valid label value\./],
  ['-app=web', /^`-app` isn't a valid label key\./],
  [`${'a'.repeat(64)}=x`, /isn't a valid label key/],
  ['app=web,', /^`` isn't a label requirement/],
  ['Bad_Prefix/app=x', /isn't a valid label key/],
  ['x'.repeat(1025), /1025 characters long; 1024 at most/],
])('refuses %j', (selector, message) => {
  expect(labelSelectorProblem(selector)).toMatch(message);
});
