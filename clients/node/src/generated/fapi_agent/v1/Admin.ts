// Original file: proto/fapi_agent/v1/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { LockRequest as _fapi_agent_v1_LockRequest, LockRequest__Output as _fapi_agent_v1_LockRequest__Output } from '../../fapi_agent/v1/LockRequest';
import type { LockResponse as _fapi_agent_v1_LockResponse, LockResponse__Output as _fapi_agent_v1_LockResponse__Output } from '../../fapi_agent/v1/LockResponse';
import type { ReloadRequest as _fapi_agent_v1_ReloadRequest, ReloadRequest__Output as _fapi_agent_v1_ReloadRequest__Output } from '../../fapi_agent/v1/ReloadRequest';
import type { ReloadResponse as _fapi_agent_v1_ReloadResponse, ReloadResponse__Output as _fapi_agent_v1_ReloadResponse__Output } from '../../fapi_agent/v1/ReloadResponse';
import type { StatusRequest as _fapi_agent_v1_StatusRequest, StatusRequest__Output as _fapi_agent_v1_StatusRequest__Output } from '../../fapi_agent/v1/StatusRequest';
import type { StatusResponse as _fapi_agent_v1_StatusResponse, StatusResponse__Output as _fapi_agent_v1_StatusResponse__Output } from '../../fapi_agent/v1/StatusResponse';
import type { UnlockRequest as _fapi_agent_v1_UnlockRequest, UnlockRequest__Output as _fapi_agent_v1_UnlockRequest__Output } from '../../fapi_agent/v1/UnlockRequest';
import type { UnlockResponse as _fapi_agent_v1_UnlockResponse, UnlockResponse__Output as _fapi_agent_v1_UnlockResponse__Output } from '../../fapi_agent/v1/UnlockResponse';

export interface AdminClient extends grpc.Client {
  Lock(argument: _fapi_agent_v1_LockRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_LockResponse__Output>): grpc.ClientUnaryCall;
  Lock(argument: _fapi_agent_v1_LockRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_LockResponse__Output>): grpc.ClientUnaryCall;
  Lock(argument: _fapi_agent_v1_LockRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_LockResponse__Output>): grpc.ClientUnaryCall;
  Lock(argument: _fapi_agent_v1_LockRequest, callback: grpc.requestCallback<_fapi_agent_v1_LockResponse__Output>): grpc.ClientUnaryCall;
  lock(argument: _fapi_agent_v1_LockRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_LockResponse__Output>): grpc.ClientUnaryCall;
  lock(argument: _fapi_agent_v1_LockRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_LockResponse__Output>): grpc.ClientUnaryCall;
  lock(argument: _fapi_agent_v1_LockRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_LockResponse__Output>): grpc.ClientUnaryCall;
  lock(argument: _fapi_agent_v1_LockRequest, callback: grpc.requestCallback<_fapi_agent_v1_LockResponse__Output>): grpc.ClientUnaryCall;
  
  Reload(argument: _fapi_agent_v1_ReloadRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_ReloadResponse__Output>): grpc.ClientUnaryCall;
  Reload(argument: _fapi_agent_v1_ReloadRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_ReloadResponse__Output>): grpc.ClientUnaryCall;
  Reload(argument: _fapi_agent_v1_ReloadRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_ReloadResponse__Output>): grpc.ClientUnaryCall;
  Reload(argument: _fapi_agent_v1_ReloadRequest, callback: grpc.requestCallback<_fapi_agent_v1_ReloadResponse__Output>): grpc.ClientUnaryCall;
  reload(argument: _fapi_agent_v1_ReloadRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_ReloadResponse__Output>): grpc.ClientUnaryCall;
  reload(argument: _fapi_agent_v1_ReloadRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_ReloadResponse__Output>): grpc.ClientUnaryCall;
  reload(argument: _fapi_agent_v1_ReloadRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_ReloadResponse__Output>): grpc.ClientUnaryCall;
  reload(argument: _fapi_agent_v1_ReloadRequest, callback: grpc.requestCallback<_fapi_agent_v1_ReloadResponse__Output>): grpc.ClientUnaryCall;
  
  Status(argument: _fapi_agent_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _fapi_agent_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _fapi_agent_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _fapi_agent_v1_StatusRequest, callback: grpc.requestCallback<_fapi_agent_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _fapi_agent_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _fapi_agent_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _fapi_agent_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _fapi_agent_v1_StatusRequest, callback: grpc.requestCallback<_fapi_agent_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  
  Unlock(argument: _fapi_agent_v1_UnlockRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_UnlockResponse__Output>): grpc.ClientUnaryCall;
  Unlock(argument: _fapi_agent_v1_UnlockRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_UnlockResponse__Output>): grpc.ClientUnaryCall;
  Unlock(argument: _fapi_agent_v1_UnlockRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_UnlockResponse__Output>): grpc.ClientUnaryCall;
  Unlock(argument: _fapi_agent_v1_UnlockRequest, callback: grpc.requestCallback<_fapi_agent_v1_UnlockResponse__Output>): grpc.ClientUnaryCall;
  unlock(argument: _fapi_agent_v1_UnlockRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_UnlockResponse__Output>): grpc.ClientUnaryCall;
  unlock(argument: _fapi_agent_v1_UnlockRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_UnlockResponse__Output>): grpc.ClientUnaryCall;
  unlock(argument: _fapi_agent_v1_UnlockRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_UnlockResponse__Output>): grpc.ClientUnaryCall;
  unlock(argument: _fapi_agent_v1_UnlockRequest, callback: grpc.requestCallback<_fapi_agent_v1_UnlockResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AdminHandlers extends grpc.UntypedServiceImplementation {
  Lock: grpc.handleUnaryCall<_fapi_agent_v1_LockRequest__Output, _fapi_agent_v1_LockResponse>;
  
  Reload: grpc.handleUnaryCall<_fapi_agent_v1_ReloadRequest__Output, _fapi_agent_v1_ReloadResponse>;
  
  Status: grpc.handleUnaryCall<_fapi_agent_v1_StatusRequest__Output, _fapi_agent_v1_StatusResponse>;
  
  Unlock: grpc.handleUnaryCall<_fapi_agent_v1_UnlockRequest__Output, _fapi_agent_v1_UnlockResponse>;
  
}

export interface AdminDefinition extends grpc.ServiceDefinition {
  Lock: MethodDefinition<_fapi_agent_v1_LockRequest, _fapi_agent_v1_LockResponse, _fapi_agent_v1_LockRequest__Output, _fapi_agent_v1_LockResponse__Output>
  Reload: MethodDefinition<_fapi_agent_v1_ReloadRequest, _fapi_agent_v1_ReloadResponse, _fapi_agent_v1_ReloadRequest__Output, _fapi_agent_v1_ReloadResponse__Output>
  Status: MethodDefinition<_fapi_agent_v1_StatusRequest, _fapi_agent_v1_StatusResponse, _fapi_agent_v1_StatusRequest__Output, _fapi_agent_v1_StatusResponse__Output>
  Unlock: MethodDefinition<_fapi_agent_v1_UnlockRequest, _fapi_agent_v1_UnlockResponse, _fapi_agent_v1_UnlockRequest__Output, _fapi_agent_v1_UnlockResponse__Output>
}
