// Original file: switchboard/v1/echo.proto


export interface EchoRequest {
  'message'?: (string);
}

export interface EchoRequest__Output {
  'message': (string);
}
