// Original file: switchboard/v1/echo.proto


export interface PingRequest {
}

export interface PingRequest__Output {
}
