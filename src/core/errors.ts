// The one error type whose message is shown to the user as it is.

/** A failure to show the user as is: what happened and what to do next. */
export class UserFacingError extends Error {
  override name = 'UserFacingError';
  constructor(
    message: string,
    /** Short machine-readable kind, for logs, metrics and the root message status. */
    readonly kind: string,
  ) {
    super(message);
  }
}
