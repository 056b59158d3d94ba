import { RefusalDetector } from './refusal-detector';

describe(RefusalDetector.name, () => {
  const detector = new RefusalDetector();

  // prettier-ignore
  it.each([
    ["I'm sorry, but I can't help with that request.", true],
    ['I’m sorry, but I can’t assist with that.', true],
    ['I cannot help with creating malware.', true],
    ["I can't provide medical advice.", true],
    ['Unfortunately, I am unable to share that information.', true],
    ['As an AI language model, I cannot browse the internet.', true],
    ['Sorry, but that is outside what I can do.', true],
    ['I must decline to answer this.', true],
    ['  \n"I\'m sorry, but I cannot do that."', true],
    ['Sure! Here is a haiku about autumn.', false],
    ['The capital of France is Paris. I cannot stress enough how lovely it is.', false],
    ["Here's the code. Note: I can't guarantee it compiles on Windows.", false],
    ['Canary releases reduce risk by exposing a small share of users first.', false],
    ['', false],
  ])('classifies %j as refusal=%s', (text, expected) => {
    expect(detector.isRefusal(text)).toBe(expected);
  });

  it('takes custom patterns from the environment, one per line', () => {
    const custom = RefusalDetector.fromEnv('^nope\n# a comment\n^computer says no');
    expect(custom.isRefusal('Computer says no.')).toBe(true);
    expect(custom.isRefusal("I'm sorry, but I can't")).toBe(false);
  });

  it('fails at boot on an invalid pattern', () => {
    expect(() => RefusalDetector.fromEnv('([')).toThrow(SyntaxError);
  });
});
