/**
 * Reading the validated context inside a protected handler without a non-null assertion.
 */
import { IamError } from '../errors.js'
import type { IamRequestContext } from './request.js'

/**
 * The context, or `ERR_IAM_INTERNAL` (500) when there is none: the route is not protected, or is
 * optional and the request had no token. Adapters wrap it as `requireIam(req)`.
 *
 * @example
 * ```ts
 * const { claims } = requireContext(req.iam)
 * ```
 */
export function requireContext(context: IamRequestContext | undefined): IamRequestContext {
  if (context === undefined) {
    throw new IamError(
      'ERR_IAM_INTERNAL',
      'no IAM context on this request: the route is not protected by permissionRequired, or it is optional and the request had no token',
    )
  }
  return context
}
