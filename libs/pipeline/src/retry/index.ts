export * from './duration';
export * from './error-codes';
export { listErrorsSource, readRetriedRun, type ErrorsListingOptions, type RetriedRun } from './errors-source';
