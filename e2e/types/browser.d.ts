// What the demo checkout's page has besides the DOM: the gateway's browser library
// (functions/callback/assets/gateway.js), loaded by a script tag.
declare const ThreeDSGateway: {
  collectDeviceData(options: { url: string; accessToken: string }): Promise<void>;
  challenge(options: Record<string, unknown>): Promise<{ status: string; flow: string; liabilityShift: boolean | null; signed: string }>;
};
interface Window {
  ThreeDSGateway: typeof ThreeDSGateway;
  // Set by the checkout and by the browser tests' page scripts.
  demoReference?: string;
  settled?: Promise<any>;
  received?: string[];
}
